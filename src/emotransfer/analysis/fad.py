"""Fréchet Audio Distance between sets of clips, overall and per emotion.

FAD fits a Gaussian to the embeddings of each set (every frame of every clip, or one
mean-pooled vector per clip) and measures the Fréchet distance between the two Gaussians:
``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. Computed per pair of emotions it
shows which emotions of one set sit closest to which of another (e.g. speech vs music).

Example:
    >>> rng = np.random.default_rng(0)
    >>> a, b = Moments(), Moments()
    >>> a.add(rng.normal(size=(4000, 3))); b.add(rng.normal(size=(4000, 3)) + [2, 0, 0])
    >>> round(frechet_distance(a, b))
    4
"""

from __future__ import annotations

import numpy as np


class Moments:
    """Streaming mean and covariance of ``(N, D)`` embeddings (float64 sums)."""

    def __init__(self) -> None:
        self.count = 0
        self.total: np.ndarray | None = None
        self.outer: np.ndarray | None = None

    def add(self, embeddings: np.ndarray) -> None:
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if self.total is None:
            dim = embeddings.shape[1]
            self.total, self.outer = np.zeros(dim), np.zeros((dim, dim))
        self.count += len(embeddings)
        self.total += embeddings.sum(axis=0)
        self.outer += embeddings.T @ embeddings

    def mean(self) -> np.ndarray:
        return self.total / self.count

    def covariance(self) -> np.ndarray:
        mean = self.mean()
        return (self.outer - self.count * np.outer(mean, mean)) / max(self.count - 1, 1)


def frechet_distance(a: Moments, b: Moments) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings."""
    if a.count < 2 or b.count < 2:
        raise ValueError("Fréchet distance needs at least 2 embeddings per set")
    mean_a, mean_b = a.mean(), b.mean()
    cov_a, cov_b = a.covariance(), b.covariance()
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.maximum(values, 0))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.maximum(np.linalg.eigvalsh((middle + middle.T) / 2), 0)).sum()
    distance = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))
