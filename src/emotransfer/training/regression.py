"""Dimensional targets (arousal, valence, dominance) on frozen features: ridge regression.

Rows without a value for the target are masked out of training and evaluation; the
regularisation strength is chosen by CCC on speaker-grouped inner folds.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = rng.normal(size=(60, 5))
    >>> targets = features[:, 0] + 0.1 * rng.normal(size=60)
    >>> fold = Fold("f", np.arange(40), np.arange(40, 60))
    >>> rows, guess, alpha = run_regression_fold(features, targets, np.arange(60) % 6, fold,
    ...                                          alphas=[0.1, 10.0], inner_folds=3, seed=0)
    >>> bool(ccc(targets[rows], guess) > 0.9)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import Ridge

from emotransfer.data.split_disjoint import inner_disjoint_splits
from emotransfer.data.splits import Fold, inner_splits
from emotransfer.evaluation.metrics import ccc
from emotransfer.models.normalize import Standardizer, block_weights, column_scale

DEFAULT_ALPHAS = [1.0, 10.0, 100.0, 1000.0, 10000.0]


def run_regression_fold(
    features: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    fold: Fold,
    *,
    alphas: list[float],
    inner_folds: int,
    seed: int,
    blocks: Sequence[int] = (),
    content: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit on the labelled training rows of ``fold``; predict its labelled test rows.

    Args:
        features: ``(N, D)`` pooled features.
        targets: ``(N,)`` float, NaN where a row has no value.
        groups: ``(N,)`` speaker keys.
        blocks: the widths of the inputs concatenated in ``features`` (audio, text: an
            early fusion), summing to ``D``; each block after the first gets a weight from
            :data:`~emotransfer.models.normalize.BLOCK_WEIGHTS` (its columns scaled after
            standardising: a ridge penalty of its own), chosen with alpha on the inner
            folds. Empty: one block.
        content: ``(N,)`` what each row says, for a split that holds content out: the inner
            folds then hold content out too (``None``: speaker-grouped inner folds).

    Returns:
        Test row positions that have a value, their predictions, and the chosen alpha.
    """
    known = ~np.isnan(targets)
    train = fold.train[known[fold.train]]
    test = fold.test[known[fold.test]]
    if len(train) < 2 or len(test) == 0:
        return test, np.zeros(len(test)), float("nan")
    said = None if content is None else content[train]
    alpha, weights = select_ridge(features[train], targets[train], groups[train], alphas, blocks,
                             inner_folds, seed, said)  # fmt: skip
    scaler = Standardizer().fit(features[train])
    scale = column_scale(blocks, weights, features.shape[1])
    model = Ridge(alpha=alpha).fit(scaler.transform(features[train]) * scale, targets[train])
    return test, model.predict(scaler.transform(features[test]) * scale), alpha


def select_ridge(
    features: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    alphas: list[float],
    blocks: Sequence[int],
    folds: int,
    seed: int,
    content: np.ndarray | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[float, tuple[float, ...]]:
    """The alpha and block weights of the best summed CCC over speaker-grouped inner folds
    (disjoint in ``content`` too, where given), or over the given ``splits`` of the rows."""
    choices = [(alpha, weights) for alpha in alphas for weights in block_weights(blocks)]
    if len(choices) == 1 or len(np.unique(groups)) < 2:
        return choices[0]
    scores = np.zeros(len(choices))
    strata = np.zeros(len(targets), dtype=int)
    if splits is None:
        splits = (inner_splits(groups, strata, folds=folds, seed=seed) if content is None
                  else inner_disjoint_splits(groups, content, folds=folds, seed=seed))  # fmt: skip
    for train, valid in splits:
        scaler = Standardizer().fit(features[train])
        inner_train, inner_valid = (
            scaler.transform(features[train]),
            scaler.transform(features[valid]),
        )
        for i, (alpha, weights) in enumerate(choices):
            scale = column_scale(blocks, weights, features.shape[1])
            guess = Ridge(alpha=alpha).fit(inner_train * scale, targets[train]).predict(
                inner_valid * scale)  # fmt: skip
            scores[i] += ccc(targets[valid], guess)
    return choices[int(np.argmax(scores))]
