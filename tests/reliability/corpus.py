"""The bad-input corpus generator: a tiny learnable csv corpus and every kind of broken file.

The clean corpus has 4 speakers x 3 emotions x 2 clips of 0.5 to 1 s; each emotion is a tone
of its own pitch (with a little jitter and noise), so a log-mel + logistic regression run
learns it perfectly and any silent change of features, labels or folds shows in its result.

Example:
    >>> import tempfile
    >>> root = write_corpus(Path(tempfile.mkdtemp()))
    >>> table = read_rows(root)
    >>> len(table), sorted(set(table["emotion"])), table["file"].iloc[0]
    (24, ['anger', 'happiness', 'sadness'], 'audio/s01_anger_0.wav')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile

RATE = 16000
PITCH = {"anger": 440.0, "happiness": 330.0, "sadness": 220.0}
SPEAKERS = ("s01", "s02", "s03", "s04")
CLIPS = 2
COLUMNS = ["file", "speaker", "emotion", "gender"]
# Seconds of the too-long clip: just over the default max_duration of 600 s.
LONG_SECONDS = 601.0
LONG_RATE = 4000  # a low native rate keeps the 601 s file small (4.8 MB); it is resampled


def tone(emotion: str, seconds: float, *, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """A float32 tone whose pitch says the emotion, with seeded jitter and noise.

    Example:
        >>> wave = tone("anger", 0.5)
        >>> wave.shape, wave.dtype.name, bool(0.2 < abs(wave).max() < 0.5)
        ((8000,), 'float32', True)
    """
    rng = np.random.default_rng(seed)
    pitch = PITCH.get(emotion, 550.0) * (1 + 0.02 * rng.standard_normal())
    time = np.arange(int(round(seconds * rate))) / rate
    wave = 0.3 * np.sin(2 * np.pi * pitch * time) + 0.01 * rng.standard_normal(time.size)
    return wave.astype(np.float32)


def write_corpus(root: Path, *, speakers: tuple[str, ...] = SPEAKERS) -> Path:
    """Write ``root/audio/*.wav`` and ``root/metadata.csv`` (columns of :data:`COLUMNS`)."""
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for s, speaker in enumerate(speakers):
        for e, emotion in enumerate(PITCH):
            for clip in range(CLIPS):
                name = f"audio/{speaker}_{emotion}_{clip}.wav"
                seed = 100 * s + 10 * e + clip
                seconds = 0.5 + 0.5 * np.random.default_rng(seed).random()
                soundfile.write(root / name, tone(emotion, seconds, seed=seed), RATE)
                rows.append([name, speaker, emotion, "female" if s % 2 else "male"])
    write_rows(root, pd.DataFrame(rows, columns=COLUMNS))
    return root


def read_rows(root: Path) -> pd.DataFrame:
    """The corpus' metadata.csv as text cells (blank cells stay ``""``)."""
    return pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False)


def write_rows(root: Path, table: pd.DataFrame) -> None:
    table.to_csv(root / "metadata.csv", index=False)


def add_row(root: Path, name: str, *, speaker: str = "s01", emotion: str = "anger") -> None:
    """Append a manifest row for ``audio/<name>`` (the file is written by the caller)."""
    table = read_rows(root)
    row = pd.DataFrame([[f"audio/{name}", speaker, emotion, "male"]], columns=COLUMNS)
    write_rows(root, pd.concat([table, row], ignore_index=True))


def add_clip(
    root: Path, name: str, wave: np.ndarray, *, rate: int = RATE, speaker: str = "s01",
    emotion: str = "anger", **write_options: str,
) -> Path:  # fmt: skip
    """Write ``wave`` as ``audio/<name>`` (format from the suffix) and list it."""
    path = root / "audio" / name
    soundfile.write(path, wave, rate, **write_options)
    add_row(root, name, speaker=speaker, emotion=emotion)
    return path


def _corrupt(path: Path) -> None:
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)


def _empty(path: Path) -> None:
    soundfile.write(path, np.zeros(0, dtype=np.float32), RATE)


def _silent(path: Path) -> None:
    soundfile.write(path, np.zeros(RATE // 2, dtype=np.float32), RATE)


def _nan(path: Path) -> None:
    wave = tone("anger", 0.5)
    wave[100:200] = np.nan
    soundfile.write(path, wave, RATE, subtype="FLOAT")


def _short(path: Path) -> None:
    soundfile.write(path, tone("anger", 0.05), RATE)


def _long(path: Path) -> None:
    soundfile.write(path, tone("anger", LONG_SECONDS, rate=LONG_RATE), LONG_RATE)


# Broken audio writers: name -> (file name, writer, what the listed problem says).
BAD_AUDIO: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "corrupt": ("corrupt.wav", _corrupt, "cannot decode audio"),
    "empty": ("empty.wav", _empty, "empty"),
    "silent": ("silent.wav", _silent, "silent"),
    "nan": ("nan.wav", _nan, "NaN"),
    "short": ("short.wav", _short, "too short"),
    "long": ("long.wav", _long, "too long"),
}


def add_bad_audio(root: Path, kind: str) -> str:
    """Write the broken file of ``kind`` (a key of :data:`BAD_AUDIO`, or ``missing``: a row
    whose file does not exist) and list it; returns its file name."""
    if kind == "missing":
        add_row(root, "missing.wav")
        return "missing.wav"
    name, writer, _ = BAD_AUDIO[kind]
    writer(root / "audio" / name)
    add_row(root, name)
    return name


class Exploit:
    """A pickle payload: unpickling it runs ``os.system(command)``, which every loader of a
    run folder (torch ``weights_only``) must refuse."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        import os

        return os.system, (self.command,)
