import numpy as np
import pytest

from emotransfer.models.fewshot_baselines import ScratchBaseline, TransferBaseline
from emotransfer.models.fewshot_evaluation import few_shot_evaluation
from emotransfer.models.support_layer import SupportLayerChoice


def layered(count, informative, seed):
    """(N, 3, 6) features; the class shows only in hidden state ``informative``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    features = rng.normal(size=(count, 3, 6))
    features[:, informative, :3] += 3.0 * np.eye(3)[labels]
    return features.astype(np.float32), labels


def test_the_layer_is_chosen_on_the_support_set_and_beats_the_source_layer():
    # The sources know the class in state 0, the target in state 2: a layer chosen on the
    # sources is wrong for the target; the support clips alone find state 2.
    source, source_labels = layered(90, informative=0, seed=0)
    target, target_labels = layered(60, informative=2, seed=1)
    method = SupportLayerChoice(method=TransferBaseline(hidden=16, epochs=50), fallback_layer=0)
    method.meta_fit(source, source_labels, np.zeros(90))
    adapted = method.adapt(target[:15], target_labels[:15])
    assert adapted.layer == 2 and len(adapted.scores) == 3
    assert adapted.scores[2] > max(adapted.scores[:2])
    chosen = few_shot_evaluation(method, target, target_labels, shots=5, repeats=3, seed=0)
    fixed = TransferBaseline(hidden=16, epochs=50).meta_fit(source[:, 0], source_labels, None)
    at_source_layer = few_shot_evaluation(fixed, target[:, 0], target_labels, shots=5,
                                          repeats=3, seed=0)  # fmt: skip
    assert chosen["mean_uar"] >= 0.9 > 0.6 > at_source_layer["mean_uar"]


def test_one_shot_support_uses_the_fallback_layer_and_shapes_are_checked():
    features, labels = layered(30, informative=1, seed=0)
    method = SupportLayerChoice(method=ScratchBaseline(hidden=8, adapt_steps=10), fallback_layer=1)
    method.meta_fit(features, labels, np.zeros(30))
    adapted = method.adapt(features[:3], labels[:3])  # one clip per class: nothing to validate
    assert adapted.layer == 1 and adapted.scores == []
    assert adapted.predict(features).shape == (30,)
    with pytest.raises(ValueError, match="hidden state"):
        method.adapt(features[:6, :2], labels[:6])
    with pytest.raises(ValueError, match=r"\(N, L \+ 1, D\)"):
        method.meta_fit(features[:, 0], labels, np.zeros(30))
