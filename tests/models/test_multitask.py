import numpy as np
import pytest
import torch

from emotransfer.evaluation.metrics import ccc
from emotransfer.models.losses import ccc_loss, masked_cross_entropy
from emotransfer.models.multitask import MultitaskHead


def problem(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(200, 8))
    labels = (features[:, 0] > 0).astype(int) + 2 * (features[:, 1] > 0)
    arousal = features[:, 2] + 0.1 * rng.normal(size=200)
    gender = (features[:, 3] > 0).astype(int)
    return features, labels, arousal, gender


def test_ccc_loss_matches_the_metric_and_masks_missing_values():
    truth = torch.tensor([1.0, 2.0, 4.0, float("nan")])
    guess = torch.tensor([1.5, 2.0, 3.0, 100.0])
    expected = 1 - ccc(np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]))
    assert float(ccc_loss(guess, truth)) == pytest.approx(expected, abs=1e-6)
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    assert float(masked_cross_entropy(logits, torch.tensor([0, -1]))) < 0.01


def test_multitask_head_learns_every_task_with_missing_labels_masked():
    features, labels, arousal, gender = problem()
    arousal_missing = arousal.copy()
    arousal_missing[::2] = np.nan  # half the corpus has no arousal annotation
    gender_missing = gender.copy()
    gender_missing[1::3] = -1
    head = MultitaskHead(hidden=32, epochs=300, learning_rate=1e-2).fit(
        features, labels, targets={"arousal": arousal_missing},
        auxiliary={"gender": gender_missing},
    )  # fmt: skip
    test, test_labels, test_arousal, _ = problem(seed=1)
    assert (head.predict(test) == test_labels).mean() > 0.8
    assert ccc(test_arousal, head.predict_dimensions(test)["arousal"]) > 0.7
    assert head.history_[-1]["gender"] < head.history_[0]["gender"]


def test_learned_uncertainty_weights_differ_from_fixed_ones():
    features, labels, arousal, _ = problem()
    head = MultitaskHead(hidden=16, epochs=200, uncertainty=True, learning_rate=1e-2).fit(
        features, labels, targets={"arousal": arousal}
    )
    weights = head.task_weights_
    assert set(weights) == {"emotion", "arousal"} and weights["emotion"] != 1.0
    fixed = MultitaskHead(hidden=16, epochs=5, weights={"arousal": 0.0}).fit(
        features, labels, targets={"arousal": arousal}
    )
    assert fixed.task_weights_ == {"emotion": 1.0, "arousal": 1.0}  # not learned
