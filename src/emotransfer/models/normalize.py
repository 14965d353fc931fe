"""Feature standardisation: per speaker (unsupervised, no labels) or fitted on training rows.

Per-speaker z-scoring removes each voice's baseline (pitch level, loudness, timbre) so a
model sees how a speaker deviates from themself. It uses a speaker's features, never labels,
including the held-out speaker's: the usual transductive setting of speaker normalisation.

Example:
    >>> features = np.array([[1.0], [3.0], [10.0], [14.0]])
    >>> speaker_standardize(features, np.array(["a", "a", "b", "b"])).ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def speaker_standardize(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Z-score ``(N, ...)`` features (e.g. ``(N, D)`` or ``(N, L + 1, D)``) within each speaker
    (or any group given as ``speakers``); constant features become 0."""
    result = np.empty_like(features, dtype=np.float64)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        block = features[rows].astype(np.float64)
        scale = block.std(axis=0)
        result[rows] = (block - block.mean(axis=0)) / np.where(scale > 1e-12, scale, 1.0)
    return result


def speaker_statistics(
    features: np.ndarray, speakers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The average speaker of ``(N, ...)`` features: the mean over speakers of each one's mean
    and of each one's standard deviation (what :func:`speaker_standardize` divides by), each of
    the features' trailing shape. A clip of a speaker nobody declared is standardised with
    these; with one speaker, they are that speaker's own.

    Example:
        >>> mean, scale = speaker_statistics(np.array([[1.0], [3.0], [10.0], [14.0]]),
        ...                                  np.array(["a", "a", "b", "b"]))
        >>> mean.tolist(), scale.tolist()
        ([7.0], [1.5])
    """
    means, scales = [], []
    for speaker in np.unique(speakers):
        block = features[speakers == speaker].astype(np.float64)
        means.append(block.mean(axis=0))
        scale = block.std(axis=0)
        scales.append(np.where(scale > 1e-12, scale, 1.0))
    return np.mean(means, axis=0), np.mean(scales, axis=0)


class Standardizer:
    """Mean/std learned in :meth:`fit` (training rows only) and applied to any rows."""

    def fit(self, features: np.ndarray) -> Standardizer:
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean_) / self.scale_


# The relative weights an input block of an early fusion may get (after the first block's 1);
# 1/16 all but leaves out an input that carries nothing (EmoDB's transcripts).
BLOCK_WEIGHTS = (0.0625, 0.25, 0.5, 1.0, 2.0, 4.0)


def block_weights(blocks: Sequence[int]) -> list[tuple[float, ...]]:
    """Every choice of weights for the inputs after the first (none for one input)."""
    return list(itertools.product(BLOCK_WEIGHTS, repeat=max(len(blocks) - 1, 0)))


def column_scale(blocks: Sequence[int], weights: tuple[float, ...], width: int) -> np.ndarray:
    """Per column, its block's weight (1 for the first block, or without blocks)."""
    if not blocks:
        return np.ones(width)
    if sum(blocks) != width:
        raise ValueError(f"blocks {list(blocks)} do not add up to the {width} feature columns")
    return np.concatenate([np.full(size, weight) for size, weight in
                           zip(blocks, (1.0, *weights))])  # fmt: skip
