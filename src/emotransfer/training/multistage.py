"""Multistage fusion of dimensional predictions (Atmaja & Akagi 2020, "Multitask learning and
multistage fusion for dimensional audiovisual emotion recognition"): a first stage of one
model per input (a ridge per input and dimension, its penalty chosen on inner folds), a
second stage fitted on the first stage's out-of-fold predictions of every dimension.

Per outer fold, on its training rows only: each input ``b`` and dimension ``k`` gets a ridge
(alpha by summed CCC on the inner folds, as :func:`~emotransfer.training.regression.
run_regression_fold` chooses it); its out-of-fold predictions of the training rows come
from refits on inner folds that hold the validated rows' speakers out (and their content, on
a disjoint split: every pair of speaker and content groups, so every row is predicted
once). The second stage, per dimension, is a ridge on the standardised ``B x K`` first-stage
predictions (alpha by CCC over the same inner folds' predictions): the relation between the
dimensions (arousal predicts dominance) and each input's reliability per dimension are
learned from clips the first stage never trained on. Test rows get the first-stage
predictions of models fitted on every training row, then the second stage.

Example:
    >>> rng = np.random.default_rng(0)
    >>> a, t = rng.normal(size=(80, 3)), rng.normal(size=(80, 3))
    >>> values = np.stack([a[:, 0] + t[:, 0], a[:, 1], t[:, 2]], axis=1)
    >>> fold = Fold("f", np.arange(60), np.arange(60, 80))
    >>> found = multistage_fold(np.hstack([a, t]), values, np.arange(80) % 6, fold,
    ...                         blocks=[3, 3], inner_folds=3, seed=0)
    >>> [bool(ccc(values[rows, k], guess) > 0.8) for k, (rows, guess) in enumerate(found)]
    [True, True, True]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import Ridge

from emotransfer.data.split_disjoint import inner_disjoint_splits
from emotransfer.data.splits import Fold, inner_splits
from emotransfer.evaluation.metrics import ccc  # noqa: F401 (doctest)
from emotransfer.models.normalize import Standardizer
from emotransfer.training.regression import DEFAULT_ALPHAS, select_ridge

SECOND_STAGE_ALPHAS = (0.1, 1.0, 10.0, 100.0)


def multistage_fold(
    features: np.ndarray,
    values: np.ndarray,
    groups: np.ndarray,
    fold: Fold,
    *,
    blocks: Sequence[int],
    inner_folds: int,
    seed: int,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    content: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per dimension, the test rows of ``fold`` that have a value and their predictions.

    Args:
        features: ``(N, D)`` the inputs' pooled features side by side, ``blocks`` wide each.
        values: ``(N, K)`` the dimensions' values (NaN: unknown).
        groups: ``(N,)`` speaker keys.
        blocks: the inputs' widths, summing to ``D`` (two or more).
        content: ``(N,)`` what each row says, for a split that holds content out (inner
            folds then hold it out too).

    Raises:
        ValueError: fewer than two blocks, blocks that do not add up to ``D``, or a training
            side too small for inner folds (fewer than 2 speakers).
    """
    if len(blocks) < 2 or sum(blocks) != features.shape[1]:
        raise ValueError(
            f"multistage fusion needs two or more inputs whose widths add up "
            f"to the {features.shape[1]} feature columns; got {list(blocks)}"
        )
    edges = np.cumsum([0, *blocks])
    parts = [features[:, start:end] for start, end in zip(edges[:-1], edges[1:])]
    train = fold.train
    said = None if content is None else content[train]
    if len(np.unique(groups[train])) < 2:
        raise ValueError(f"multistage fusion: fold {fold.name} trains on one speaker; its "
                         "out-of-fold predictions need two or more")  # fmt: skip
    splits = _out_of_fold_splits(groups[train], said, inner_folds, seed)
    # First stage: a penalty per input and dimension, out-of-fold and test predictions.
    chosen = [[_alpha(part[train], values[train, k], groups[train], alphas, inner_folds, seed,
                      said) for k in range(values.shape[1])] for part in parts]  # fmt: skip
    stacked = np.full((len(train), len(parts) * values.shape[1]), np.nan)
    for inner_train, valid in splits:
        stacked[valid] = _first_stage(parts, values, train[inner_train], train[valid], chosen)
    tested = _first_stage(parts, values, train, fold.test, chosen)
    found = []
    for k in range(values.shape[1]):
        target = values[train, k]
        usable = ~np.isnan(target) & ~np.isnan(stacked).any(axis=1)
        known = ~np.isnan(values[fold.test, k])
        rows = fold.test[known]
        if usable.sum() < 2 or not len(rows):
            found.append((rows, np.zeros(len(rows))))
            continue
        alpha = _second_alpha(stacked[usable], target[usable], groups[train][usable], splits,
                              usable)  # fmt: skip
        scaler = Standardizer().fit(stacked[usable])
        model = Ridge(alpha=alpha).fit(scaler.transform(stacked[usable]), target[usable])
        found.append((rows, model.predict(scaler.transform(tested[known]))))
    return found


def _out_of_fold_splits(
    groups: np.ndarray, content: np.ndarray | None, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner splits of a training side in which every row is validated once."""
    if content is None:
        return inner_splits(groups, np.zeros(len(groups), dtype=int), folds=folds, seed=seed)
    return inner_disjoint_splits(groups, content, folds=folds, seed=seed, every_pair=True)


def _alpha(
    features: np.ndarray, targets: np.ndarray, groups: np.ndarray, alphas: Sequence[float],
    folds: int, seed: int, content: np.ndarray | None,
) -> float:  # fmt: skip
    known = ~np.isnan(targets)
    if known.sum() < 2:
        return float(alphas[0])
    said = None if content is None else content[known]
    alpha, _ = select_ridge(features[known], targets[known], groups[known], list(alphas), (),
                            folds, seed, said)  # fmt: skip
    return float(alpha)


def _first_stage(
    parts: list[np.ndarray], values: np.ndarray, fit_rows: np.ndarray, rows: np.ndarray,
    chosen: list[list[float]],
) -> np.ndarray:  # fmt: skip
    """``(len(rows), B * K)``: each input's ridge per dimension, fitted on ``fit_rows`` (those
    with a value), predicting ``rows`` (NaN where a dimension has under 2 known rows)."""
    out = np.full((len(rows), len(parts) * values.shape[1]), np.nan)
    for b, part in enumerate(parts):
        scaler = Standardizer().fit(part[fit_rows])
        fitted, wanted = scaler.transform(part[fit_rows]), scaler.transform(part[rows])
        for k in range(values.shape[1]):
            known = ~np.isnan(values[fit_rows, k])
            if known.sum() < 2:
                continue
            model = Ridge(alpha=chosen[b][k]).fit(fitted[known], values[fit_rows[known], k])
            out[:, b * values.shape[1] + k] = model.predict(wanted)
    return out


def _second_alpha(
    stacked: np.ndarray, target: np.ndarray, groups: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]], usable: np.ndarray,
) -> float:  # fmt: skip
    """The second stage's penalty by summed CCC over the first stage's inner splits
    (restricted to the usable rows; a split with under 2 of them on a side left out)."""
    position = np.cumsum(usable) - 1  # a training row's index among the usable rows
    kept = [(position[fit[usable[fit]]], position[valid[usable[valid]]]) for fit, valid in splits]
    kept = [(fit, valid) for fit, valid in kept if len(fit) >= 2 and len(valid) >= 2]
    alpha, _ = select_ridge(stacked, target, groups, list(SECOND_STAGE_ALPHAS), (), 0, 0,
                            splits=kept)  # fmt: skip
    return float(alpha)
