import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from emotransfer.models.feature_transfer import (
    InstanceReweighting,
    SharedSubspace,
    reweighted_logistic_regression,
)


def shifted_domains(seed=0, size=200, dims=6, shift=3.0):
    """Two classes split along x0; the target is moved along x0 + x1, so a source-trained
    classifier puts most target rows in one class. Moving along (1, -1) keeps the classes apart
    and ignores the shift: a shared subspace can find it."""
    rng = np.random.default_rng(seed)
    offset = np.zeros(dims)
    offset[:2] = shift

    def domain(count, move):
        labels = np.arange(count) % 2
        features = rng.normal(0, 1, (count, dims))
        features[:, 0] += np.where(labels == 1, 2.0, -2.0)
        return features + move, labels

    source, source_labels = domain(size, 0.0)
    target, target_labels = domain(size // 2, offset)
    return source, source_labels, target, target_labels


def discrepancy(source, target):
    """Squared distance of the domain means relative to the total variance (scale-free)."""
    pooled = np.concatenate([source, target])
    return ((source.mean(0) - target.mean(0)) ** 2).sum() / pooled.var(0).sum()


@pytest.mark.parametrize("tied", [True, False])
def test_shared_subspace_aligns_domains_and_helps_the_target(tied):
    source, labels, target, target_labels = shifted_domains()
    subspace = SharedSubspace(latent_dim=3, tied=tied, epochs=300).fit(source, target)
    source_latent, target_latent = subspace.transform(source), subspace.transform(target)
    assert source_latent.shape == (200, 3)
    # measured: 1.34 in the input, < 0.01 in the latent space
    assert discrepancy(source_latent, target_latent) < 0.1 * discrepancy(source, target)
    on_input = LogisticRegression().fit(source, labels).score(target, target_labels)
    on_latent = LogisticRegression().fit(source_latent, labels).score(target_latent, target_labels)
    assert on_latent > on_input + 0.15  # measured: 0.82 (tied), 0.91 (untied) vs 0.61


def test_plain_autoencoder_keeps_a_high_variance_shift():
    source, _, target, _ = shifted_domains()
    plain = SharedSubspace(latent_dim=3, epochs=300, discrepancy_weight=0.0).fit(source, target)
    latent_discrepancy = discrepancy(plain.transform(source), plain.transform(target))
    assert latent_discrepancy > 0.5 * discrepancy(source, target)


def test_tied_decoder_shares_the_encoder_weight():
    source, _, target, _ = shifted_domains(size=20)
    tied = SharedSubspace(latent_dim=2, epochs=5).fit(source, target)
    untied = SharedSubspace(latent_dim=2, epochs=5, tied=False).fit(source, target)

    def count(model):
        return len({*model.encoder_.parameters(), *model.decoder_.parameters()})

    assert (count(tied), count(untied)) == (3, 4)
    assert tied.losses_[-1] < tied.losses_[0]


def test_shared_subspace_is_deterministic_and_validates_activation():
    source, _, target, _ = shifted_domains(size=40)
    first = SharedSubspace(latent_dim=2, epochs=20, activation="tanh").fit(source, target)
    second = SharedSubspace(latent_dim=2, epochs=20, activation="tanh").fit(source, target)
    assert np.array_equal(first.transform(target), second.transform(target))
    assert np.abs(first.transform(target)).max() <= 1.0
    with pytest.raises(ValueError, match="activation"):
        SharedSubspace(activation="sigmoid").fit(source, target)


def covariate_shift(seed=0, source_size=400, target_size=200):
    """Same labelling rule everywhere (x1 > x0^2 - 1) but the target sits in one corner of the
    source distribution, where a linear boundary fitted to all source rows is wrong."""
    rng = np.random.default_rng(seed)

    def label(features):
        return (features[:, 1] > features[:, 0] ** 2 - 1).astype(int)

    source = rng.normal([0.0, 0.5], [1.5, 2.0], (source_size, 2))
    target = rng.normal([2.0, 3.0], [0.4, 1.5], (target_size, 2))
    return source, label(source), target, label(target)


def test_weights_favour_source_rows_in_the_target_region():
    source, _, target, _ = covariate_shift()
    weights = InstanceReweighting().weights(source, target)
    assert weights.shape == (400,)
    assert weights.mean() == pytest.approx(1.0)
    near = np.linalg.norm(source - target.mean(0), axis=1) < 1.5
    assert weights[near].mean() > 3 * weights[~near].mean()  # measured: 5.3 vs 0.59
    # clipping to [0.1, 10] before normalising bounds the spread at 100
    assert weights.max() / weights.min() <= 100 + 1e-9


def test_clipping_bounds_extreme_ratios():
    source = np.r_[np.zeros((20, 1)), np.full((20, 1), 10.0)]
    target = np.full((20, 1), 10.0) + np.random.default_rng(0).normal(0, 0.1, (20, 1))
    reweighting = InstanceReweighting(C=100.0, clip=(0.1, 10.0))
    weights = reweighting.weights(source, target)
    odds = np.exp(reweighting.domain_classifier_.decision_function(source))
    raw = odds * len(source) / len(target)  # p(target|x) / p(source|x) * n_s / n_t
    assert raw[:20].max() < 0.1  # far from the target: clipped to the floor
    assert np.allclose(weights, np.clip(raw, 0.1, 10.0) / np.clip(raw, 0.1, 10.0).mean())


def test_reweighting_improves_target_accuracy_under_covariate_shift():
    gains = []
    for seed in range(3):
        source, labels, target, target_labels = covariate_shift(seed)
        plain = LogisticRegression(max_iter=1000).fit(source, labels)
        weighted = reweighted_logistic_regression(source, labels, target)
        gains.append(weighted.score(target, target_labels) - plain.score(target, target_labels))
        assert weighted.score(target, target_labels) >= plain.score(target, target_labels)
    assert np.mean(gains) > 0.1  # measured gains: 0.19, 0.33, 0.03
