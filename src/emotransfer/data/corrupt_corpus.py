"""Write a corrupted copy of a corpus, loadable as a new corpus by the csv adapter.

For "train clean, test corrupted" experiments: every manifest row (a file or a segment of one)
is read, corrupted and written as 16-bit FLAC to ``out_dir/audio/``, and ``out_dir/metadata.csv``
lists the copies with every manifest column, so that
``CsvCorpus(root=out_dir).load()`` (registry name ``csv``) reads them back.

The copy is reproducible and resumable: each row gets its own random stream from ``seed`` and
the row key (file and segment bounds), so results do not depend on row order or on which rows
are corrupted together; files already written are skipped, and each file and the csv appear
atomically (written to a temporary name, then renamed), so an interrupted run leaves no
half-written file. ``out_dir/settings.json`` records seed, rate and corruption; resuming with
other settings is refused rather than mixing two conditions in one folder.

Example:
    >>> import tempfile, soundfile
    >>> from emotransfer.data.corrupt import AddNoise
    >>> from emotransfer.data.manifest import normalize_manifest
    >>> folder = Path(tempfile.mkdtemp())
    >>> soundfile.write(folder / "a.wav", 0.1 * np.sin(np.arange(8000) / 5.0), 16000)
    >>> table = normalize_manifest(pd.DataFrame({"file": [str(folder / "a.wav")],
    ...     "speaker": ["s1"], "emotion": ["anger"]}), corpus="toy")
    >>> copy = corrupt_corpus(table, AddNoise(snr_db=5), out_dir=folder / "noisy")
    >>> copy[["speaker", "condition"]].values.tolist()
    [['s1', 'corrupted']]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile

from emotransfer.data.audio import load_audio
from emotransfer.data.corrupt import build_corruption, describe
from emotransfer.data.manifest import row_key
from emotransfer.io import write_atomic

AUDIO_FOLDER = "audio"
METADATA = "metadata.csv"
SETTINGS = "settings.json"

Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def corrupt_corpus(
    table: pd.DataFrame,
    corruption: Corruption | dict[str, Any] | list[dict[str, Any]],
    *,
    out_dir: str | Path,
    seed: int = 0,
    condition: str = "corrupted",
    sample_rate: int = 16000,
) -> pd.DataFrame:
    """Write a corrupted copy of every row of ``table`` and its ``metadata.csv``.

    Args:
        table: manifest (see :mod:`emotransfer.data.manifest`) with absolute file paths.
        corruption: a corruption callable, or a config spec for
            :func:`~emotransfer.data.corrupt.build_corruption`.
        out_dir: folder of the copy; created if needed.
        seed: base seed; each row's stream is derived from it and the row key.
        condition: value of the ``condition`` column (e.g. ``"babble_5db"``).
        sample_rate: rate of the written files in Hz.

    Returns:
        The copy's manifest with absolute paths: every column of ``table``; ``file`` the FLAC
        copy and ``start``/``end`` NaN (a copy holds just its segment); ``source_file``,
        ``source_start``, ``source_end``; ``condition``; ``corruption`` (json description).
        ``metadata.csv`` holds the same with ``file`` relative to ``out_dir``.

    Raises:
        AudioError: a source file cannot be read (nothing is written for it).
        ValueError: ``out_dir`` holds a copy made with another seed, rate or corruption.
    """
    corruption = corruption if callable(corruption) else build_corruption(corruption)
    out_dir = Path(out_dir).expanduser().resolve()
    record = json.dumps(describe(corruption), sort_keys=True, default=str)
    _claim(out_dir, {"seed": seed, "sample_rate": sample_rate, "corruption": record})
    table = _with_bounds(table)
    digests = [_digest(row_key(row)) for _, row in table.iterrows()]
    names = [_copy_name(file, digest) for file, digest in zip(table["file"], digests, strict=True)]
    for (_, row), digest, name in zip(table.iterrows(), digests, names, strict=True):
        target = out_dir / name
        if not target.is_file():
            rng = np.random.default_rng([seed, int(digest[:15], 16)])
            _write_copy(row, corruption, target, rng, sample_rate)
    metadata = _metadata(table, names, condition, record)
    write_atomic(out_dir / METADATA, lambda path: metadata.to_csv(path, index=False))
    return metadata.assign(file=[str(out_dir / name) for name in names])


def _claim(out_dir: Path, settings: dict[str, Any]) -> None:
    """Record the settings of the copy, or check they match those of an earlier run."""
    (out_dir / AUDIO_FOLDER).mkdir(parents=True, exist_ok=True)
    path = out_dir / SETTINGS
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous != settings:
            raise ValueError(
                f"{str(out_dir)!r} holds a copy made with other settings ({previous}); "
                f"use another out_dir for {settings}"
            )
        return
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(settings, indent=2)))


def _with_bounds(table: pd.DataFrame) -> pd.DataFrame:
    missing = {column: np.nan for column in ("start", "end") if column not in table.columns}
    return table.assign(**missing).reset_index(drop=True)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _copy_name(file: str, digest: str) -> str:
    # The digest keeps segments of one file, and equal names in different folders, apart.
    return f"{AUDIO_FOLDER}/{Path(file).stem}_{digest[:10]}.flac"


def _write_copy(
    row: pd.Series,
    corruption: Corruption,
    target: Path,
    rng: np.random.Generator,
    sample_rate: int,
) -> None:
    wave = load_audio(row["file"], sample_rate=sample_rate, start=row["start"], end=row["end"])
    corrupted = np.clip(corruption(wave, sample_rate, rng), -1.0, 1.0)

    def write(path: Path) -> None:
        soundfile.write(path, corrupted, sample_rate, format="FLAC", subtype="PCM_16")

    write_atomic(target, write)


def _metadata(table: pd.DataFrame, names: list[str], condition: str, record: str) -> pd.DataFrame:
    return table.assign(
        source_file=table["file"],
        source_start=table["start"],
        source_end=table["end"],
        file=names,
        start=np.nan,
        end=np.nan,
        condition=condition,
        corruption=record,
    )
