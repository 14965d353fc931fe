"""The GAN-augmented head: a conditional WGAN-GP learns each class's feature distribution
from the rows the head is fitted on; the base head fits real + generated rows."""

import numpy as np
import pytest
import torch
from tests.bodies import synthetic_run_config

from emotransfer.models.export import ExportedHead, export_head, kind_of
from emotransfer.models.gan_augment import GANAugmentedHead

MEANS = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])


def blobs(rng, per_class=40):
    """Three Gaussian classes in 4-D: known means, unit spread."""
    labels = np.repeat(np.arange(3), per_class)
    return MEANS[labels] + rng.normal(size=(len(labels), 4)), labels


def test_generated_rows_follow_each_class_distribution():
    features, labels = blobs(np.random.default_rng(0))
    head = GANAugmentedHead(steps=400, ratio=2.0).fit(features, labels)
    rows, classes = head.generated_
    assert np.bincount(classes).tolist() == [80, 80, 80]  # ratio x n_c per class
    for c in range(3):
        generated = rows[classes == c]
        assert np.linalg.norm(generated.mean(0) - MEANS[c]) < 1.0  # real classes are 3 apart
        assert 0.3 < generated.std(0).mean() < 2.0  # spread, not one collapsed point
    assert (head.base_.predict(rows) == classes).mean() > 0.9  # each row reads as its class


def test_one_gan_serves_every_grid_point_and_a_seed_fixes_it():
    features, labels = blobs(np.random.default_rng(1), per_class=15)
    head = GANAugmentedHead(steps=30)
    fitted = head.fit_many(features, labels, [{"C": 0.01}, {"C": 1.0}])
    assert fitted[0].generated_ is fitted[1].generated_
    assert [f.base_.C for f in fitted] == [0.01, 1.0]
    state = torch.get_rng_state()
    again = GANAugmentedHead(steps=30, C=0.01).fit(features, labels)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's generator is untouched
    np.testing.assert_array_equal(again.generated_[0], fitted[0].generated_[0])
    other = GANAugmentedHead(steps=30, seed=1).fit(features, labels)
    assert not np.array_equal(other.generated_[0], again.generated_[0])


@pytest.mark.parametrize("base", ["svm", "logreg"])
def test_the_export_is_the_base_head_without_the_generator(base):
    features, labels = blobs(np.random.default_rng(2), per_class=15)
    head = GANAugmentedHead(head=base, steps=30).fit(features, labels)
    arrays = export_head(head)
    assert kind_of(arrays) == base
    assert not any("generator" in name for name in arrays)
    exported = ExportedHead(arrays)
    np.testing.assert_array_equal(exported.class_probabilities(features, 3).argmax(1),
                                  head.predict(features))  # fmt: skip


@pytest.mark.parametrize("options, message", [({"head": "ridge"}, "one of"),
                                              ({"ratio": 0}, "ratio")])  # fmt: skip
def test_bad_settings_are_refused(options, message):
    features, labels = blobs(np.random.default_rng(3), per_class=5)
    with pytest.raises(ValueError, match=message):
        GANAugmentedHead(steps=1, **options).fit(features, labels)


def test_a_run_with_the_gan_head_trains_inside_its_folds_and_predicts(
    tmp_path, synthetic_root, synthetic_table
):  # fmt: skip
    from emotransfer.experiment import run
    from emotransfer.inference import Predictor

    config = synthetic_run_config(
        tmp_path, synthetic_root, "gan", "data.labels.classes=[]", "features.upstream=logmel",
        "features.normalization=global", "head.name=gan", "head.params={steps: 20}",
        "head.grid={C: [0.1, 1.0]}", "head.inner_folds=2",
    )  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] > 1 / len(result.metrics["classes"])
    predictor = Predictor.from_run(result.run_dir)
    guess = predictor.predict_file(synthetic_table["file"].iloc[0])
    assert abs(sum(guess.values()) - 1) < 1e-6
