import numpy as np
import pytest

from emotransfer.models import tuning
from emotransfer.models.heads import Head, LogisticRegressionHead, SVMHead
from emotransfer.models.tuning import grid_points, select_params


def correlated_noise_problem(seed=0, size=160, speakers=8):
    """The signal hides in the difference of two features that share a large noise.

    A heavily regularised linear model leans towards the class-mean direction, which is
    swamped by the shared noise; a weakly regularised one finds the difference.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(size) % 2
    shared = rng.normal(0, 3, size)
    signal = np.where(labels == 1, 0.5, -0.5)
    features = np.c_[
        signal + shared + rng.normal(0, 0.1, size),
        shared + rng.normal(0, 0.1, size),
        rng.normal(0, 1, (size, 3)),
    ]
    groups = np.repeat([f"c/s{i}" for i in range(speakers)], size // speakers)
    return features, labels, groups


def test_grid_points():
    assert grid_points({"C": [1, 2], "kernel": ["linear", "rbf"]}) == [
        {"C": 1, "kernel": "linear"},
        {"C": 1, "kernel": "rbf"},
        {"C": 2, "kernel": "linear"},
        {"C": 2, "kernel": "rbf"},
    ]
    assert grid_points({}) == [{}]


@pytest.mark.parametrize("head", [SVMHead(), LogisticRegressionHead()], ids=["svm", "logreg"])
@pytest.mark.parametrize("values", [[1e-4, 10.0, 1e-2], [10.0, 1e-4], [1e-4, 1e-2, 10.0]])
def test_picks_the_c_that_works(head, values):
    features, labels, groups = correlated_noise_problem()
    best, scores = select_params(head, {"C": values}, features, labels, groups, folds=4, seed=0)
    assert best == {"C": 10.0}
    assert len(scores) == len(values)
    assert scores[values.index(10.0)] > 0.95
    assert scores[values.index(1e-4)] < 0.75


def test_first_point_wins_ties():
    rng = np.random.default_rng(0)
    labels = np.arange(80) % 2
    features = np.c_[labels * 10.0 + rng.normal(0, 0.1, 80), rng.normal(0, 1, 80)]
    groups = np.repeat(np.arange(4), 20)
    best, scores = select_params(
        SVMHead(), {"C": [1.0, 10.0]}, features, labels, groups, folds=2, seed=0
    )
    assert scores == [1.0, 1.0] and best == {"C": 1.0}


class NeverFit(Head):
    def fit_many(self, features, labels, grid_points):
        raise AssertionError("a single grid point needs no validation")


def test_single_point_is_returned_without_fitting():
    features, labels, groups = correlated_noise_problem()
    assert select_params(NeverFit(), {"C": [3.0]}, features, labels, groups, folds=3, seed=0) == (
        {"C": 3.0},
        [],
    )
    assert select_params(NeverFit(), {}, features, labels, groups, folds=3, seed=0) == ({}, [])


def test_inner_folds_are_speaker_disjoint(monkeypatch):
    features, labels, groups = correlated_noise_problem()
    seen = []
    original = tuning.inner_splits

    def recording_splits(*args, **kwargs):
        splits = original(*args, **kwargs)
        seen.extend(splits)
        return splits

    monkeypatch.setattr(tuning, "inner_splits", recording_splits)
    select_params(SVMHead(), {"C": [0.1, 1.0]}, features, labels, groups, folds=4, seed=1)
    assert len(seen) == 4
    for train, valid in seen:
        assert not set(groups[train]) & set(groups[valid])
    assert sorted(np.concatenate([valid for _, valid in seen])) == list(range(len(labels)))


def test_scores_are_seeded():
    features, labels, groups = correlated_noise_problem(seed=2)
    grid = {"C": [0.01, 0.1, 1.0]}
    first = select_params(LogisticRegressionHead(), grid, features, labels, groups, folds=3, seed=4)
    again = select_params(LogisticRegressionHead(), grid, features, labels, groups, folds=3, seed=4)
    assert first == again


def test_an_early_fusions_inputs_get_weights_and_a_noise_input_is_weighed_down():
    from emotransfer.data.splits import Fold
    from emotransfer.training.frozen import run_fold

    rng = np.random.default_rng(0)
    labels = np.arange(240) % 3
    signal = rng.normal(size=(240, 4)) + np.eye(3, 4)[labels] * 1.5  # the audio tells
    noise = rng.normal(size=(240, 300))  # a text input that tells nothing
    features, groups = np.c_[signal, noise], np.repeat(np.arange(12), 20)
    best, scores = select_params(SVMHead(), {"C": [1.0]}, features, labels, groups, folds=3,
                                 seed=0, blocks=[4, 300])  # fmt: skip
    assert best["input_weights"][0] == 1.0 and best["input_weights"][1] <= 0.5
    assert len(scores) == 6  # one grid point x six weights of the second input
    fold = Fold("f", np.arange(180), np.arange(180, 240))
    common = {"inner_folds": 3, "seed": 0}
    plain = run_fold(SVMHead(), {"C": [1.0]}, features, labels, groups, fold, **common)
    weighted = run_fold(SVMHead(), {"C": [1.0]}, features, labels, groups, fold,
                        blocks=[4, 300], **common)  # fmt: skip
    truth = labels[180:]
    assert (weighted.predicted == truth).mean() > (plain.predicted == truth).mean() + 0.1
    # the weights live in the fold's scaler: a saved head serves what was chosen
    expected = weighted.model.predict(weighted.scaler.transform(features[180:]))
    assert (expected == weighted.predicted).all()
    assert set(weighted.best_params) == {"C", "input_weights"}


def test_every_hidden_state_is_tuned_as_before_without_blocks():
    from emotransfer.models.layers import LayerSumHead

    rng = np.random.default_rng(0)
    labels = np.arange(48) % 2
    features = rng.normal(size=(48, 3, 4)) + labels[:, None, None]  # (N, L + 1, D)
    best, scores = select_params(LayerSumHead(epochs=20), {"weight_decay": [1e-3, 1e-1]},
                                 features, labels, np.repeat(np.arange(6), 8), folds=3,
                                 seed=0)  # fmt: skip
    assert set(best) == {"weight_decay"} and len(scores) == 2
