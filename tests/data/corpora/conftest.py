"""Shared fixture: write tiny synthetic wav files into fake corpus layouts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SAMPLE_RATE = 16000


def write_wav(path: Path, seconds: float = 0.3, frequency: float = 440.0) -> Path:
    """Write a short 16 kHz sine tone to ``path``, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, 0.1 * np.sin(2 * np.pi * frequency * time), SAMPLE_RATE)
    return path


@pytest.fixture
def make_wavs(tmp_path: Path) -> Callable[..., Path]:
    """Return ``make(*relative_paths, root=tmp_path) -> root`` that writes one wav per path."""

    def make(*relative: str, root: Path = tmp_path) -> Path:
        for name in relative:
            write_wav(root / name)
        return root

    return make


@pytest.fixture
def files_exist() -> Callable[..., bool]:
    """Return ``check(table) -> bool``: every manifest path is absolute and exists."""

    def check(table) -> bool:
        return all(Path(name).is_absolute() and Path(name).is_file() for name in table["file"])

    return check
