"""Enrolled speakers: a speaker's own feature statistics, saved once and used for every later
clip of that speaker (a per-speaker normalised run: frozen features, or a trained model, whose
baseline is the speaker's mean fused vector per served model).

A speaker-normalised run reads a clip as its deviation from the speaker's baseline. With
several clips of the speaker at hand, :func:`enroll` computes that baseline (the mean and
standard deviation of each pooled feature over the clips, ``(L + 1, D)`` each, every hidden
state) and :func:`save_enrolment` writes it as safetensors (no pickle) with the digest of the
run's ``files.json``, so :func:`load_enrolment` refuses it for another run. A single later clip
is then standardised exactly as it would be among the enrolment clips
(``Predictor.predict_signals(..., enrolled=...)``, ``emotransfer predict --enrolled FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emotransfer.inference.loading import checked_statistics
from emotransfer.io import RunFolderError, load_arrays, write_atomic
from emotransfer.models.normalize import speaker_statistics
from emotransfer.run_files import FILES, file_digest


def enroll(predictor: Any, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The baseline of the speaker whose clips are ``waves``: for a frozen-feature run the
    mean and scale ``(L + 1, D)`` of the pooled features; for a trained run, per served model,
    the mean fused vector ``(M, F)`` (its scale ones: a trained model subtracts the mean).

    Raises:
        ValueError: fewer than two clips, or a run whose clips need no speaker statistics.
    """
    scorer = predictor.scorer
    if not getattr(scorer, "speaker_norm", False):
        raise ValueError("enrol speakers for a run normalised per speaker; this run does not "
                         "use a speaker's statistics")  # fmt: skip
    if len(waves) < 2:
        raise ValueError("enrolment needs at least two clips of the speaker")
    waves = [np.asarray(w, dtype=np.float32) for w in waves]
    if hasattr(scorer, "speaker_means"):  # trained models
        means = scorer.speaker_means(waves).astype(np.float64)
        return means, np.ones_like(means)
    pooled = scorer.pooled(waves)
    return speaker_statistics(pooled, np.zeros(len(pooled)))  # one speaker: its own


def run_identity(run: str | Path) -> str:
    """The digest of the run's ``files.json`` (its model files), or ``""`` without one."""
    record = Path(run) / FILES
    return file_digest(record) if record.is_file() else ""


def save_enrolment(path: str | Path, stats: tuple[np.ndarray, np.ndarray], run: str | Path) -> None:
    """Write ``stats`` for the run at ``run`` (atomically)."""
    from safetensors.numpy import save_file

    mean, scale = (np.ascontiguousarray(a, dtype=np.float64) for a in stats)
    identity = np.frombuffer(run_identity(run).encode(), dtype=np.uint8).copy()
    write_atomic(path, lambda staging: save_file(
        {"mean": mean, "scale": scale, "run": identity}, str(staging)))  # fmt: skip


def load_enrolment(path: str | Path, run: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Statistics saved by :func:`save_enrolment` for the run at ``run``, checked.

    Raises:
        RunFolderError: not an enrolment file, one of another run, or values that are not
            finite (scale positive).
    """
    arrays = load_arrays(path)
    if not {"mean", "scale", "run"} <= set(arrays):
        raise RunFolderError(f"{path}: not an enrolment file (needs mean, scale and run)")
    mean, scale = arrays["mean"], arrays["scale"]
    if bytes(arrays["run"].astype(np.uint8)).decode(errors="replace") != run_identity(run):
        raise RunFolderError(f"{path}: enrolled with another run (or the run changed since)")
    return checked_statistics(path, mean, scale)
