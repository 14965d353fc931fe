"""Pooling of frame-level features over time (numpy, for cached features).

Example:
    >>> pool_frames(np.ones((2, 5, 3)), "mean_std").shape
    (2, 6)
    >>> pool_statistics(np.ones((2, 2, 3)), "mean").shape
    (2, 3)
"""

from __future__ import annotations

import numpy as np

from emotransfer.define import Pooling


def pool_frames(array: np.ndarray, pooling: str) -> np.ndarray:
    """Pool ``(L + 1, T, D)`` to ``(L + 1, D')``; a single frame (functionals) passes through."""
    Pooling.validate(pooling)
    if array.shape[1] == 1:
        return np.asarray(array[:, 0, :], dtype=np.float32)
    mean = array.mean(axis=1)
    if pooling == Pooling.MEAN:
        return mean.astype(np.float32)
    std = array.std(axis=1)
    if pooling == Pooling.STD:
        return std.astype(np.float32)
    return np.concatenate([mean, std], axis=-1).astype(np.float32)


def pool_statistics(statistics: np.ndarray, pooling: str) -> np.ndarray:
    """``(L + 1, 2, D)`` mean/std statistics to ``(L + 1, D')``.

    Utterance-level features (one frame, std stored as NaN) pass through as the mean.
    """
    Pooling.validate(pooling)
    mean, std = statistics[:, 0, :], statistics[:, 1, :]
    if np.isnan(std).all():
        return np.asarray(mean, dtype=np.float32)
    if pooling == Pooling.MEAN:
        return np.asarray(mean, dtype=np.float32)
    if pooling == Pooling.STD:
        return np.asarray(std, dtype=np.float32)
    return np.concatenate([mean, std], axis=-1).astype(np.float32)
