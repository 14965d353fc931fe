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

import numpy as np
from sklearn.linear_model import Ridge

from emotransfer.data.splits import Fold, inner_splits
from emotransfer.evaluation.metrics import ccc
from emotransfer.models.normalize import Standardizer

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
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit on the labelled training rows of ``fold``; predict its labelled test rows.

    Args:
        features: ``(N, D)`` pooled features.
        targets: ``(N,)`` float, NaN where a row has no value.
        groups: ``(N,)`` speaker keys.

    Returns:
        Test row positions that have a value, their predictions, and the chosen alpha.
    """
    known = ~np.isnan(targets)
    train = fold.train[known[fold.train]]
    test = fold.test[known[fold.test]]
    if len(train) < 2 or len(test) == 0:
        return test, np.zeros(len(test)), float("nan")
    alpha = _select_alpha(features[train], targets[train], groups[train], alphas, inner_folds, seed)
    scaler = Standardizer().fit(features[train])
    model = Ridge(alpha=alpha).fit(scaler.transform(features[train]), targets[train])
    return test, model.predict(scaler.transform(features[test])), alpha


def _select_alpha(
    features: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    alphas: list[float],
    folds: int,
    seed: int,
) -> float:
    if len(alphas) == 1 or len(np.unique(groups)) < 2:
        return float(alphas[0])
    scores = np.zeros(len(alphas))
    strata = np.zeros(len(targets), dtype=int)
    for train, valid in inner_splits(groups, strata, folds=folds, seed=seed):
        scaler = Standardizer().fit(features[train])
        inner_train, inner_valid = (
            scaler.transform(features[train]),
            scaler.transform(features[valid]),
        )
        for i, alpha in enumerate(alphas):
            guess = Ridge(alpha=alpha).fit(inner_train, targets[train]).predict(inner_valid)
            scores[i] += ccc(targets[valid], guess)
    return float(alphas[int(np.argmax(scores))])
