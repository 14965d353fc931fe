import numpy as np
import pytest
import torch
from sklearn.base import clone

from emotransfer.models.episodes import episodes
from emotransfer.models.fewshot_baselines import (
    MultitaskBaseline,
    ScratchBaseline,
    TransferBaseline,
)
from emotransfer.models.fewshot_evaluation import few_shot_evaluation
from emotransfer.models.maml import MAMLClassifier


def subspace_tasks(seed=0, groups=8, classes=6, per_class=20, target_classes=4, target_per=25):
    """Source tasks and a target whose class means lie in one shared 3-d subspace of R^32.

    Class structure lives in the subspace; the 29 other directions carry large nuisance noise.
    Meta-learning can discover the subspace from the sources; 5 target clips per class cannot.
    Source labels are unique per (group, class), like harmonised labels that never repeat.
    """
    rng = np.random.default_rng(seed)
    dims, rank = 32, 3
    basis, _ = np.linalg.qr(rng.normal(size=(dims, dims)))

    def task(count, per_class):
        means = rng.normal(0, 1.0, (count, rank))
        labels = np.repeat(np.arange(count), per_class)
        signal = means[labels] + rng.normal(0, 0.3, (len(labels), rank))
        nuisance = rng.normal(0, 1.5, (len(labels), dims - rank))
        return signal @ basis[:, :rank].T + nuisance @ basis[:, rank:].T, labels

    sources = [task(classes, per_class) for _ in range(groups)]
    features = np.concatenate([x for x, _ in sources])
    labels = np.concatenate([y + g * classes for g, (_, y) in enumerate(sources)])
    group_ids = np.repeat(np.arange(groups), classes * per_class)
    target_features, target_labels = task(target_classes, target_per)
    return features, labels, group_ids, target_features, target_labels


@pytest.fixture(scope="module")
def toy():
    return subspace_tasks()


@pytest.fixture(scope="module")
def scratch_uar(toy):
    *_, target_features, target_labels = toy
    scratch = ScratchBaseline(hidden=32, adapt_steps=100)
    result = few_shot_evaluation(
        scratch, target_features, target_labels, shots=5, repeats=4, seed=1
    )
    return result["mean_uar"]


def fomaml(**changes):
    params = dict(ways=4, hidden=32, inner_lr=0.5, inner_steps=3, outer_lr=3e-3, meta_batch=4)
    params.update(meta_steps=300, shots=5, queries=5, first_order=True, seed=0)
    return MAMLClassifier(**{**params, **changes})


@pytest.fixture(scope="module")
def fitted_fomaml(toy):
    features, labels, groups, *_ = toy
    return fomaml().meta_fit(features, labels, groups)


def test_episodes_shapes_and_relabelling(toy):
    features, labels, groups, *_ = toy
    sampler = episodes(
        features, labels, groups, ways=4, shots=5, queries=3, rng=np.random.default_rng(0)
    )
    for _ in range(20):
        episode = next(sampler)
        assert episode.support_features.shape == (20, 32)
        assert episode.query_features.shape == (12, 32)
        assert np.bincount(episode.support_labels).tolist() == [5] * 4
        assert np.bincount(episode.query_labels).tolist() == [3] * 4
        assert np.array_equal(episode.support_features, features[episode.support_indices])
        # local label i stands for original class classes[i]
        assert np.array_equal(
            labels[episode.support_indices], episode.classes[episode.support_labels]
        )
        assert np.array_equal(labels[episode.query_indices], episode.classes[episode.query_labels])
        assert not set(episode.support_indices) & set(episode.query_indices)


def test_each_episode_draws_from_one_group(toy):
    features, labels, groups, *_ = toy
    sampler = episodes(
        features, labels, groups, ways=3, shots=2, queries=2, rng=np.random.default_rng(1)
    )
    seen = set()
    for _ in range(60):
        episode = next(sampler)
        rows = np.r_[episode.support_indices, episode.query_indices]
        assert set(groups[rows].tolist()) == {episode.group}
        seen.add(episode.group)
    assert len(seen) == 8


def test_episodes_skip_small_groups_and_reject_impossible_requests():
    labels = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # group 1 has a single class
    sampler = episodes(
        np.zeros((8, 1)), labels, groups, ways=2, shots=1, queries=1, rng=np.random.default_rng(0)
    )
    assert {next(sampler).group for _ in range(10)} == {0}
    with pytest.raises(ValueError, match="no group"):
        episodes(
            np.zeros((8, 1)),
            labels,
            groups,
            ways=3,
            shots=1,
            queries=1,
            rng=np.random.default_rng(0),
        )


def test_first_order_maml_beats_training_from_scratch(toy, fitted_fomaml, scratch_uar):
    *_, target_features, target_labels = toy
    result = few_shot_evaluation(
        fitted_fomaml, target_features, target_labels, shots=5, repeats=4, seed=1, steps=10
    )
    assert fitted_fomaml.meta_losses_[-1] < fitted_fomaml.meta_losses_[0]
    assert result["mean_uar"] > scratch_uar + 0.2  # measured: 0.85 vs 0.46, chance 0.25


def test_second_order_maml_beats_training_from_scratch(toy, scratch_uar):
    features, labels, groups, target_features, target_labels = toy
    maml = fomaml(first_order=False, inner_steps=2, meta_steps=150)
    maml.meta_fit(features, labels, groups)
    result = few_shot_evaluation(
        maml, target_features, target_labels, shots=5, repeats=4, seed=1, steps=10
    )
    assert result["mean_uar"] > scratch_uar + 0.2  # measured: 0.83 vs 0.46


def test_second_order_gradient_flows_through_the_inner_loop(toy):
    features, labels, groups, *_ = toy
    batch = [
        next(
            episodes(
                features, labels, groups, ways=4, shots=5, queries=5, rng=np.random.default_rng(3)
            )
        )
    ]
    maml = fomaml(meta_steps=0, inner_steps=2).meta_fit(features, labels, groups)
    first = maml.meta_gradient(batch)
    second = maml.set_params(first_order=False).meta_gradient(batch)
    for name in first:
        assert not torch.allclose(first[name], second[name], atol=1e-6), name
    # without inner steps both are the plain query gradient
    maml.set_params(inner_steps=0)
    plain = maml.meta_gradient(batch)
    maml.set_params(first_order=True)
    assert all(torch.equal(plain[name], value) for name, value in maml.meta_gradient(batch).items())


@pytest.mark.parametrize(
    "baseline",
    [
        TransferBaseline(hidden=32, epochs=200),
        MultitaskBaseline(hidden=32, epochs=200),
        MultitaskBaseline(hidden=32, epochs=200, finetune_trunk=True),
    ],
    ids=["transfer", "multitask", "multitask-trunk"],
)
def test_baselines_beat_chance(toy, baseline):
    features, labels, groups, target_features, target_labels = toy
    baseline.meta_fit(features, labels, groups)
    result = few_shot_evaluation(
        baseline, target_features, target_labels, shots=5, repeats=3, seed=1
    )
    assert result["mean_uar"] > 0.45  # chance 0.25; measured 0.7-0.8


def test_adapt_resizes_output_and_returns_target_class_ids(toy, fitted_fomaml):
    *_, target_features, target_labels = toy
    keep = target_labels < 3  # 3 target classes for a 4-way learner
    names = np.array([10, 20, 30])[target_labels[keep]]
    rows = np.flatnonzero(keep)
    support = np.r_[rows[:5], rows[25:30], rows[50:55]]
    for learner in (
        fitted_fomaml,
        ScratchBaseline(hidden=8, adapt_steps=5).meta_fit(
            target_features, target_labels, target_labels
        ),
    ):
        predictor = learner.adapt(target_features[support], names[support - 0])
        assert predictor.predict_proba(target_features[keep]).shape == (keep.sum(), 3)
        assert set(predictor.predict(target_features[keep]).tolist()) <= {10, 20, 30}


def test_maml_is_deterministic_and_clonable(toy):
    features, labels, groups, target_features, target_labels = toy
    maml = fomaml(meta_steps=20)
    first = maml.meta_fit(features, labels, groups)
    second = clone(maml).meta_fit(features, labels, groups)
    assert first.meta_losses_ == second.meta_losses_
    support = np.r_[0:5, 25:30, 50:55, 75:80]
    probabilities = [
        model.adapt(target_features[support], target_labels[support]).predict_proba(target_features)
        for model in (first, second)
    ]
    assert np.array_equal(*probabilities)
    changed = clone(maml).set_params(seed=1).meta_fit(features, labels, groups)
    assert changed.meta_losses_ != first.meta_losses_


def test_few_shot_evaluation_reports_mean_inside_interval(toy):
    *_, target_features, target_labels = toy
    scratch = ScratchBaseline(hidden=8, adapt_steps=20)
    result = few_shot_evaluation(
        scratch, target_features, target_labels, shots=3, repeats=4, seed=0
    )
    assert result["ci_low"] < result["mean_uar"] < result["ci_high"]
    assert len(result["uars"]) == 4 and result["speaker_independent"] is False
    again = few_shot_evaluation(scratch, target_features, target_labels, shots=3, repeats=4, seed=0)
    assert again == result
    with pytest.raises(ValueError, match="more than 25"):
        few_shot_evaluation(scratch, target_features, target_labels, shots=25, repeats=1, seed=0)


class Recorder:
    """A learner that remembers which rows it was adapted on and asked to predict."""

    def __init__(self):
        self.support, self.query = [], []

    def adapt(self, support_features, support_labels, steps=None):
        self.support.append(support_features[:, 0].astype(int))
        recorder = self

        class Predictor:
            def predict(self, features):
                recorder.query.append(features[:, 0].astype(int))
                return np.zeros(len(features), int)

        return Predictor()


def test_speaker_independent_split_keeps_speakers_apart():
    labels = np.tile(np.arange(2), 24)
    speakers = np.repeat(np.arange(6), 8)  # 4 clips per class per speaker
    features = np.arange(48)[:, None].astype(float)  # row index as the only feature
    recorder = Recorder()
    result = few_shot_evaluation(
        recorder, features, labels, shots=3, repeats=5, seed=0, target_groups=speakers
    )
    assert result["speaker_independent"] is True
    for support, query in zip(recorder.support, recorder.query, strict=True):
        assert np.bincount(labels[support]).tolist() == [3, 3]
        assert not set(speakers[support]) & set(speakers[query])
        assert set(labels[query]) == {0, 1}
    # one speaker cannot be split: falls back to a random split
    result = few_shot_evaluation(
        Recorder(), features, labels, shots=3, repeats=2, seed=0, target_groups=np.zeros(48)
    )
    assert result["speaker_independent"] is False


def test_shared_label_episodes_keep_class_ids_and_the_output_layer_learns_them():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 2.0, (4, 16))  # one shared label space (e.g. harmonised emotions)

    def corpus(shift, per_class=15):
        labels = np.repeat(np.arange(4), per_class)
        return means[labels] + shift + rng.normal(0, 1.0, (len(labels), 16)), labels

    parts = [corpus(rng.normal(0, 0.5, 16)) for _ in range(4)]
    features = np.concatenate([x for x, _ in parts])
    labels = np.concatenate([y for _, y in parts])
    groups = np.repeat(np.arange(4), 60)
    sampler = episodes(features, labels, groups, ways=4, shots=2, queries=2,
                       rng=np.random.default_rng(0), relabel=False)  # fmt: skip
    episode = next(sampler)
    assert episode.classes.tolist() == [0, 1, 2, 3]
    assert np.array_equal(labels[episode.support_indices], episode.support_labels)
    with pytest.raises(ValueError, match="relabel=False needs labels 0..2"):
        episodes(features, labels, groups, ways=3, shots=2, queries=2,
                 rng=np.random.default_rng(0), relabel=False)  # fmt: skip
    target_features, target_labels = corpus(rng.normal(0, 0.5, 16))
    shared = fomaml(relabel=False, meta_steps=150).meta_fit(features, labels, groups)
    shuffled = fomaml(meta_steps=150).meta_fit(features, labels, groups)
    # Without any adaptation step, only the shared-label initialisation knows the classes.
    score = {name: few_shot_evaluation(model, target_features, target_labels, shots=2,
                                       repeats=3, seed=0, steps=0)["mean_uar"]
             for name, model in (("shared", shared), ("shuffled", shuffled))}  # fmt: skip
    assert score["shared"] > 0.9 and score["shuffled"] < 0.6
