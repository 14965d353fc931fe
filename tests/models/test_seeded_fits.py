"""Every torch head and few-shot learner: a fit leaves torch's global generator alone, and two
fits with one seed give the same model."""

import numpy as np
import pytest
import torch

from emotransfer.models.da_autoencoder import DAAutoencoderHead
from emotransfer.models.dann import DANNHead
from emotransfer.models.feature_transfer import SharedSubspace
from emotransfer.models.fewshot_baselines import (
    MultitaskBaseline,
    ScratchBaseline,
    TransferBaseline,
)
from emotransfer.models.layers import LayerSumHead
from emotransfer.models.maml import MAMLClassifier, SecondOrderMAML, SharedLabelMAML
from emotransfer.models.mlp import MLPHead
from emotransfer.models.multitask import MultitaskHead

RNG = np.random.default_rng(0)
LABELS = np.arange(48) % 4
FEATURES = (RNG.normal(size=(48, 5)) + np.eye(5)[LABELS]).astype(np.float32)
TARGET = (RNG.normal(size=(20, 5)) + 1.0).astype(np.float32)
GROUPS = np.repeat(np.arange(2), 24)
TEST = RNG.normal(size=(10, 5)).astype(np.float32)

HEADS = {
    "mlp": (lambda seed: MLPHead(hidden=8, epochs=10, seed=seed),
            lambda h: h.fit(FEATURES, LABELS)),
    "layer_sum": (lambda seed: LayerSumHead(epochs=10, seed=seed),
                  lambda h: h.fit(np.stack([FEATURES, -FEATURES], axis=1), LABELS)),
    "multitask": (lambda seed: MultitaskHead(hidden=8, epochs=10, uncertainty=True, seed=seed),
                  lambda h: h.fit(FEATURES, LABELS, targets={"arousal": FEATURES[:, 1]},
                                  auxiliary={"gender": GROUPS})),
    "dann": (lambda seed: DANNHead(hidden=8, epochs=2, batch_size=16, seed=seed),
             lambda h: h.fit(FEATURES, LABELS, domains=GROUPS, target_features=TARGET)),
    "da_autoencoder": (lambda seed: DAAutoencoderHead(latent_dim=4, num_views=2, heads=2,
                                                      hidden=8, epochs=2, batch_size=16,
                                                      seed=seed),
                       lambda h: h.fit(FEATURES, LABELS, target_features=TARGET)),
}  # fmt: skip

MAML = {"ways": 3, "hidden": 8, "meta_steps": 3, "shots": 2, "queries": 2, "meta_batch": 2}
LEARNERS = {
    "maml": lambda seed: MAMLClassifier(**MAML, seed=seed),
    "maml_shared": lambda seed: SharedLabelMAML(**{**MAML, "ways": 4}, seed=seed),
    "maml_second_order": lambda seed: SecondOrderMAML(**MAML, seed=seed),
    "transfer": lambda seed: TransferBaseline(hidden=8, epochs=5, adapt_steps=3, seed=seed),
    "multitask": lambda seed: MultitaskBaseline(hidden=8, epochs=5, adapt_steps=3, seed=seed),
    "scratch": lambda seed: ScratchBaseline(hidden=8, adapt_steps=3, seed=seed),
}


def untouched(run):
    """``run()``'s result, after checking that torch's global generator kept its state."""
    torch.manual_seed(99)
    state = torch.get_rng_state()
    result = run()
    assert torch.equal(torch.get_rng_state(), state)
    return result


@pytest.mark.parametrize("name", sorted(HEADS))
def test_head_fit_keeps_the_global_generator_and_repeats_with_one_seed(name):
    make, fit = HEADS[name]
    test = np.stack([TEST, -TEST], axis=1) if name == "layer_sum" else TEST
    first = untouched(lambda: fit(make(0))).predict_proba(test)
    torch.rand(7)  # whatever the caller drew in between does not matter
    second = untouched(lambda: fit(make(0))).predict_proba(test)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, fit(make(1)).predict_proba(test))


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_few_shot_learner_keeps_the_global_generator_and_repeats_with_one_seed(name):
    support = np.r_[0:8, 24:32]  # both groups, every class twice
    keep = support[LABELS[support] < 3]  # three target classes: MAML resizes its 4-way output
    results = []
    for seed in (0, 0, 1):
        learner = untouched(lambda s=seed: LEARNERS[name](s).meta_fit(FEATURES, LABELS, GROUPS))
        adapted = untouched(lambda m=learner: m.adapt(FEATURES[keep], LABELS[keep]))
        results.append(adapted.predict_proba(TEST))
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


def test_shared_subspace_keeps_the_global_generator_and_repeats_with_one_seed():
    def fit(seed):
        return untouched(lambda: SharedSubspace(latent_dim=2, epochs=5, tied=False,
                                                seed=seed).fit(FEATURES, TARGET))  # fmt: skip

    np.testing.assert_array_equal(fit(0).transform(TEST), fit(0).transform(TEST))
    assert not np.array_equal(fit(0).transform(TEST), fit(1).transform(TEST))
