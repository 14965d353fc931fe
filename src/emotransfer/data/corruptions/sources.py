"""User recordings that corruptions draw from: noise files and room impulse responses.

A file or a folder (every audio file below it) is listed once and each file read once per
sample rate (bounded caches), since the same recordings serve every corrupted clip.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from emotransfer.data.audio import load_audio

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3")


def audio_files(source: str | Path) -> list[Path]:
    """``source`` itself if it is a file, else the audio files below the folder, sorted.

    Raises:
        FileNotFoundError: ``source`` does not exist or the folder holds no audio file.

    Example:
        >>> audio_files("/no/such/folder")
        Traceback (most recent call last):
        FileNotFoundError: audio file or folder '/no/such/folder' does not exist
    """
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"audio file or folder {str(path)!r} does not exist")
    files = sorted(
        p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.name[0] != "."
    )
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {str(path)!r}")
    return files


def random_recording(source: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One file of ``source`` (a file or folder), drawn with ``rng``, read at ``sample_rate``.

    The array is shared between calls: it is read-only.
    """
    files = files_cached(source)
    return load_cached(str(files[rng.integers(len(files))]), sample_rate)


@lru_cache(maxsize=16)
def files_cached(source: str) -> tuple[Path, ...]:
    # A noise folder is drawn from for every corrupted file: list it once.
    return tuple(audio_files(source))


@lru_cache(maxsize=16)  # bounded: noise recordings can be minutes long
def load_cached(path: str, sample_rate: int) -> np.ndarray:
    # Noise and impulse-response files are reused for every corrupted file: read each once.
    wave = load_audio(path, sample_rate=sample_rate, min_duration=0.0)
    wave.setflags(write=False)
    return wave
