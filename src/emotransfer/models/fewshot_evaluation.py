"""Few-shot evaluation: mean UAR over repeated K-shot adaptations, with a t-interval.

Shapes: ``target_features`` ``(N, D)`` (or ``(N, L + 1, D)`` for a learner that reads every
hidden state), ``target_labels`` ``(N,)`` int, ``target_groups`` ``(N,)`` speaker ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from emotransfer.evaluation.metrics import uar
from emotransfer.models.adapted import FewShotLearner, encode_labels


def few_shot_evaluation(
    method: FewShotLearner,
    target_features: np.ndarray,
    target_labels: np.ndarray,
    *,
    shots: int,
    repeats: int,
    seed: int,
    target_groups: np.ndarray | None = None,
    steps: int | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Mean UAR over repeated K-shot adaptations to a target, with a t-interval over repeats.

    Each repeat draws ``shots`` support clips per class, adapts ``method`` (already
    meta-fitted) and scores UAR on the remaining clips. With ``target_groups`` (speaker ids)
    the support clips come from some speakers and the query clips from the others; when no
    speaker split leaves every class on both sides, that repeat falls back to a random split
    and ``speaker_independent`` in the result is False.

    Returns:
        ``mean_uar``, ``ci_low``, ``ci_high`` (None with one repeat), ``std``, ``uars`` (one
        per repeat), ``speaker_independent``, ``shots``, ``repeats``, ``confidence``.

    Raises:
        ValueError: if a class has no more than ``shots`` clips.

    Example:
        >>> from emotransfer.models.fewshot_baselines import ScratchBaseline
        >>> rng = np.random.default_rng(0)
        >>> labels = np.repeat(np.arange(2), 12)
        >>> features = 4.0 * np.eye(3)[labels] + rng.normal(0, 0.5, (24, 3))
        >>> method = ScratchBaseline(hidden=8, adapt_steps=10)
        >>> result = few_shot_evaluation(method, features, labels, shots=3, repeats=3, seed=0)
        >>> result["ci_low"] <= result["mean_uar"] <= result["ci_high"]
        True
    """
    features = np.asarray(target_features)
    classes, encoded = encode_labels(target_labels)
    counts = np.bincount(encoded, minlength=len(classes))
    if counts.min() <= shots:
        raise ValueError(f"every class needs more than {shots} clips; counts {counts.tolist()}")
    rng = np.random.default_rng(seed)
    uars, independent = [], []
    for _ in range(repeats):
        support, query, split_by_speaker = _support_query(encoded, target_groups, shots, rng)
        predictor = method.adapt(features[support], encoded[support], steps=steps)
        uars.append(uar(encoded[query], predictor.predict(features[query]), len(classes)))
        independent.append(split_by_speaker)
    mean, low, high = _t_interval(np.array(uars), confidence)
    return {
        "mean_uar": mean,
        "ci_low": low,
        "ci_high": high,
        "std": float(np.std(uars, ddof=1)) if repeats > 1 else 0.0,
        "uars": uars,
        "speaker_independent": bool(independent) and all(independent),
        "shots": shots,
        "repeats": repeats,
        "confidence": confidence,
    }


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float | None, float | None]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    error = float(values.std(ddof=1) / np.sqrt(len(values)))
    half = float(stats.t.ppf(0.5 + confidence / 2, df=len(values) - 1)) * error
    return mean, mean - half, mean + half


def _support_query(
    labels: np.ndarray, groups: np.ndarray | None, shots: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Support and query row indices, and whether they come from disjoint speakers."""
    if groups is not None:
        pool = _speaker_pool(labels, np.asarray(groups), shots, rng)
        if pool is not None:
            support = _per_class_sample(labels, np.flatnonzero(pool), shots, rng)
            return support, np.flatnonzero(~pool), True
    support = _per_class_sample(labels, np.arange(len(labels)), shots, rng)
    return support, np.setdiff1d(np.arange(len(labels)), support), False


def _speaker_pool(
    labels: np.ndarray, groups: np.ndarray, shots: int, rng: np.random.Generator, tries: int = 10
) -> np.ndarray | None:
    """Rows of a set of speakers with ``shots`` clips of every class, leaving every class to the
    other speakers; None if random greedy orders find none."""
    classes = np.unique(labels)
    speakers = np.unique(groups)
    for _ in range(tries):
        chosen: list[Any] = []
        for speaker in rng.permutation(speakers):
            chosen.append(speaker)
            pool = np.isin(groups, chosen)
            if all((labels[pool] == c).sum() >= shots for c in classes):
                if all((labels[~pool] == c).any() for c in classes):
                    return pool
                break
    return None


def _per_class_sample(
    labels: np.ndarray, rows: np.ndarray, shots: int, rng: np.random.Generator
) -> np.ndarray:
    return np.concatenate(
        [rng.choice(rows[labels[rows] == c], shots, replace=False) for c in np.unique(labels)]
    )
