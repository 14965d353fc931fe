import numpy as np
import pytest

from emotransfer.data.splits import Fold
from emotransfer.evaluation.metrics import ccc
from emotransfer.training.regression import run_regression_fold


def test_an_early_fusions_blocks_get_weights_chosen_on_inner_folds():
    rng = np.random.default_rng(0)
    rows, groups = 120, np.repeat(np.arange(12), 10)
    signal = rng.normal(size=(rows, 4))
    targets = signal[:, 0] + 0.3 * rng.normal(size=rows)
    noise = rng.normal(size=(rows, 200))  # a second input that carries nothing
    features = np.concatenate([signal, noise], axis=1)
    fold = Fold("f", np.arange(80), np.arange(80, 120))
    common = {"alphas": [1.0, 100.0], "inner_folds": 3, "seed": 0}
    rows_, plain, _ = run_regression_fold(features, targets, groups, fold, **common)
    _, weighted, _ = run_regression_fold(features, targets, groups, fold, blocks=[4, 200],
                                         **common)  # fmt: skip
    assert ccc(targets[rows_], weighted) > ccc(targets[rows_], plain) + 0.05
    with pytest.raises(ValueError, match="do not add up"):
        run_regression_fold(features, targets, groups, fold, blocks=[4, 100], **common)


def test_content_makes_the_inner_folds_hold_the_content_out_too():
    rng = np.random.default_rng(1)
    speakers, words = np.repeat(np.arange(8), 8), np.tile(np.arange(8), 8)
    lookup = np.eye(8)[words]  # the word's identity
    acoustic = rng.normal(size=(64, 2))
    targets = acoustic[:, 0] + rng.normal(size=8)[words]  # each word its own offset
    features = np.concatenate([acoustic, lookup], axis=1)
    fold = Fold("f", np.flatnonzero((speakers < 6) & (words < 6)),
                np.flatnonzero((speakers >= 6) & (words >= 6)))  # fmt: skip
    rows, guess, _ = run_regression_fold(features, targets, speakers, fold, alphas=[1.0, 10.0],
                                         inner_folds=3, seed=0, blocks=[2, 8],
                                         content=words)  # fmt: skip
    assert len(rows) == 4 and np.isfinite(guess).all()  # 2 speakers x 2 unseen words
