"""Decode, mix to mono, resample and validate audio.

Every problem is raised as :class:`AudioError` naming the file and what is wrong, so that a
run can list all bad files at once or skip them on request.

Example:
    >>> import tempfile, soundfile
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> soundfile.write(path, 0.1 * np.sin(np.arange(8000) / 5.0), 8000)
    >>> load_audio(path, sample_rate=16000).shape
    (16000,)
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import numpy as np
import soundfile
import soxr

from emotransfer.io import file_kind

SILENCE_PEAK = 1e-4
MISSING = "file does not exist"
NOT_REGULAR = "not a regular file"


class AudioError(ValueError):
    """An audio file that cannot be used; ``path`` and ``problem`` say why."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = 16000,
    start: float | None = None,
    end: float | None = None,
    min_duration: float = 0.1,
    max_duration: float = 600.0,
) -> np.ndarray:
    """Read a file (or a segment of it) as float32 mono at ``sample_rate``.

    Args:
        path: wav, flac, ogg/opus or mp3 file.
        sample_rate: target rate in Hz; other rates are resampled with soxr.
        start, end: segment bounds in seconds; ``None`` or NaN means file start / end.
        min_duration, max_duration: accepted segment length in seconds.

    Returns:
        Array of shape ``(samples,)``.

    Raises:
        AudioError: unreadable, empty, too short, too long, non-finite or silent audio.
    """
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise AudioError(path, problem)
    try:
        info = soundfile.info(str(path))
    except Exception as error:  # libsndfile raises several types for corrupt data
        raise AudioError(path, f"cannot decode audio ({_short(error)})") from error
    native = info.samplerate
    first = 0 if _missing(start) else int(round(float(start) * native))
    last = None if _missing(end) else int(round(float(end) * native))
    if info.frames > 0 and first >= info.frames:
        raise AudioError(path, f"segment start {start} s is past the end ({info.duration:.2f} s)")
    frames = (info.frames if last is None else min(last, info.frames)) - first
    if frames / native > max_duration:
        raise AudioError(path, f"too long: {frames / native:.1f} s > max_duration {max_duration} s")
    try:
        signal, _ = soundfile.read(
            str(path), start=first, stop=last, dtype="float32", always_2d=True
        )
    except Exception as error:
        raise AudioError(path, f"cannot decode audio ({_short(error)})") from error
    return _validate(path, _to_mono(signal), native, sample_rate, min_duration)


def _validate(
    path: Path, signal: np.ndarray, native: int, sample_rate: int, min_duration: float
) -> np.ndarray:
    if signal.size == 0:
        raise AudioError(path, "empty: no audio samples")
    if not np.all(np.isfinite(signal)):
        raise AudioError(path, "contains NaN or infinite samples")
    duration = signal.size / native
    if duration < min_duration:
        raise AudioError(path, f"too short: {duration:.3f} s < min_duration {min_duration} s")
    if float(np.max(np.abs(signal))) < SILENCE_PEAK:
        raise AudioError(path, "silent: peak amplitude below 1e-4")
    if native != sample_rate:
        signal = soxr.resample(signal, native, sample_rate, quality="HQ")
    return np.ascontiguousarray(signal, dtype=np.float32)


def _to_mono(signal: np.ndarray) -> np.ndarray:
    return signal.mean(axis=1) if signal.shape[1] > 1 else signal[:, 0]


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be an audio file, found without opening it (opening a FIFO
    blocks, a device never ends): it does not exist, or is a directory, FIFO, device or
    socket. ``None`` for a regular file (or a link to one).

    Example:
        >>> file_problem("/no/such.wav"), file_problem("/dev/zero")
        ('file does not exist', 'a character device, not a regular file')
        >>> file_problem("/")
        'a directory, not a regular file'
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return MISSING
    except OSError as error:  # a permission, a link loop, a name too long
        return f"cannot read file ({error.strerror})"
    if not stat.S_ISREG(mode):
        return f"{file_kind(mode)}, {NOT_REGULAR}"
    return None


def unusable_file(problem: str) -> bool:
    """A :func:`file_problem`: the file is missing, unreadable or not a regular file (a
    run that raises on bad audio raises on these before decoding anything)."""
    return (
        problem == MISSING
        or problem.endswith(NOT_REGULAR)
        or problem.startswith("cannot read file (")
    )


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _short(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
