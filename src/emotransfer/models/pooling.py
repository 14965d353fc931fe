"""Pooling of frame-level features over time (numpy, for cached features).

Example:
    >>> pool_frames(np.ones((2, 5, 3)), "mean_std").shape
    (2, 6)
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
