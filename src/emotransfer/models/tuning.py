"""Hyper-parameter choice by speaker-grouped validation inside the training fold.

The outer test speakers never take part: the grid is scored on inner splits of the training
speakers only, then the best point is refitted on the whole training fold.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = np.r_[rng.normal(-1, 1, (40, 4)), rng.normal(1, 1, (40, 4))]
    >>> labels = np.r_[np.zeros(40, int), np.ones(40, int)]
    >>> groups = np.tile(np.arange(8), 10)
    >>> best, scores = select_params(SVMHead(), {"C": [0.01, 1.0]}, features, labels, groups,
    ...                              folds=4, seed=0)
    >>> sorted(best)
    ['C']
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from emotransfer.data.splits import inner_splits
from emotransfer.evaluation.metrics import uar
from emotransfer.models.heads import Head, SVMHead  # noqa: F401 (doctest)
from emotransfer.models.normalize import Standardizer, block_weights, column_scale


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """All combinations of a ``{name: [values]}`` grid, in the given order."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def select_params(
    head: Head,
    grid: dict[str, list[Any]],
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    folds: int,
    seed: int,
    score_single: bool = False,
    blocks: Sequence[int] = (),
) -> tuple[dict[str, Any], list[float]]:
    """The grid point with the best mean inner UAR (first wins ties), and every point's score.

    A grid of one point is not scored unless ``score_single`` (e.g. to compare layers).
    ``blocks``: the widths of the inputs side by side in ``features`` (an early fusion of
    audio and text): each input after the first also gets a weight from
    :data:`~emotransfer.models.normalize.BLOCK_WEIGHTS` (its standardised columns scaled),
    chosen with the grid; the best point then holds them as ``input_weights`` (the first
    input's 1.0 included; see :func:`column_scale`).
    """
    points = grid_points(grid)
    weightings = block_weights(blocks) if blocks else [()]
    if not points or (len(points) * len(weightings) == 1 and not score_single):
        return (points[0] if points else {}), []
    num_classes = int(labels.max()) + 1
    totals = np.zeros((len(weightings), len(points)))
    used = 0
    for train, valid in inner_splits(groups, labels, folds=folds, seed=seed):
        if len(np.unique(labels[train])) < 2:
            continue  # speakers of one emotion: nothing to learn on this split
        scaler = Standardizer().fit(features[train])
        for w, weights in enumerate(weightings):
            scale = column_scale(blocks, weights, features.shape[-1]) if blocks else 1.0
            fitted = head.fit_many(scaler.transform(features[train]) * scale, labels[train],
                                   points)  # fmt: skip
            predictions = head.predict_many(fitted, scaler.transform(features[valid]) * scale)
            for i, predicted in enumerate(predictions):
                totals[w, i] += uar(labels[valid], predicted, num_classes)
        used += 1
    scores = totals / max(1, used)
    w, i = np.unravel_index(int(np.argmax(scores)), scores.shape)
    best = dict(points[i])
    if blocks:
        best["input_weights"] = [1.0, *map(float, weightings[w])]
    return best, scores.ravel().tolist()
