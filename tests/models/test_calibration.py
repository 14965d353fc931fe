import numpy as np
import pytest

from emotransfer.models.calibration import (
    calibration_error,
    cross_fitted,
    fit_temperature,
    inner_logits,
    negative_log_likelihood,
)
from emotransfer.models.export import ExportedHead, export_head
from emotransfer.models.export_kinds import softmax
from emotransfer.models.heads import LogisticRegressionHead, RidgeHead, SVMHead
from emotransfer.models.mlp import MLPHead


def calibrated_logits(rng, rows, classes=3):
    """Logits whose softmax is the true probability of the labels drawn from it."""
    logits = rng.normal(0, 2.0, (rows, classes))
    probabilities = softmax(logits)
    labels = np.array([rng.choice(classes, p=p) for p in probabilities])
    return logits, labels


@pytest.mark.parametrize("scale", [0.25, 1.0, 5.0])
def test_the_temperature_undoes_a_known_over_or_under_confidence(scale):
    logits, labels = calibrated_logits(np.random.default_rng(0), 4000)
    assert fit_temperature(scale * logits, labels) == pytest.approx(scale, rel=0.1)


def test_fold_models_are_calibrated_on_the_other_folds_held_out_logits():
    rng = np.random.default_rng(1)
    parts = [calibrated_logits(rng, 1500) for _ in range(3)]
    # fold 0 is three times too confident, the others four times
    logits = [3 * parts[0][0], 4 * parts[1][0], 4 * parts[2][0]]
    labels = [part[1] for part in parts]
    every, per_fold = cross_fitted(logits, labels)
    assert every == pytest.approx(fit_temperature(np.concatenate(logits),
                                                  np.concatenate(labels)))  # fmt: skip
    assert per_fold[0] == pytest.approx(4.0, rel=0.1)  # from folds 1 and 2 only
    assert per_fold[1] == pytest.approx(fit_temperature(np.concatenate(logits[::2]),
                                                        np.concatenate(labels[::2])))  # fmt: skip
    assert 3.0 < per_fold[1] < 4.0
    assert cross_fitted(logits[:1], labels[:1])[1] == [1.0]  # no other fold to fit on


def test_classes_a_split_never_saw_are_left_out_not_counted_as_certain_errors():
    rng = np.random.default_rng(1)
    logits, labels = calibrated_logits(rng, 3000)
    missing = 3.0 * logits
    missing[:1000, 2] = -np.inf  # an inner split that lacked class 2
    temperature = fit_temperature(missing, labels)
    assert np.isfinite(temperature) and temperature == pytest.approx(3.0, rel=0.15)
    assert fit_temperature(np.full((4, 2), -np.inf), np.zeros(4, int)) == 1.0


def test_calibration_lowers_the_likelihood_loss_and_the_calibration_error():
    logits, labels = calibrated_logits(np.random.default_rng(2), 3000)
    proud = softmax(6 * logits)
    fixed = softmax(6 * logits / fit_temperature(6 * logits, labels))
    assert negative_log_likelihood(fixed, labels) < negative_log_likelihood(proud, labels) - 0.3
    assert calibration_error(fixed, labels) < 0.03 < 0.1 < calibration_error(proud, labels)


def grouped_data(rng, rows=120, classes=3, speakers=6):
    labels = np.arange(rows) % classes
    features = rng.normal(size=(rows, 5))
    features[:, 0] += 1.5 * labels
    groups = np.arange(rows) % speakers
    return features, labels, groups


@pytest.mark.parametrize(
    "head",
    [
        SVMHead(C=1.0),
        RidgeHead(alpha=1.0),
        LogisticRegressionHead(C=1.0),
        MLPHead(hidden=8, epochs=30),
    ],
)
def test_temperature_keeps_every_prediction_and_gives_probabilities(head):
    rng = np.random.default_rng(3)
    features, labels, groups = grouped_data(rng)
    logits, truth = inner_logits(head, {}, features, labels, groups, folds=3, seed=0)
    assert logits.shape == (120, 3) and sorted(truth.tolist()) == sorted(labels.tolist())
    temperature = fit_temperature(logits, truth)
    arrays = export_head(head.fit(features, labels))
    calibrated = ExportedHead({**arrays, "temperature": np.array([temperature])}).check()
    test = rng.normal(size=(50, 5))
    probabilities = calibrated.class_probabilities(test, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert ((probabilities > 0) & (probabilities < 1)).all()  # never one vote
    agree = probabilities.argmax(axis=1) == calibrated.predict(test)
    assert agree.mean() >= 0.96  # an SVM's ties between votes go to the larger margin


def test_svm_logits_are_scikit_learns_one_vs_rest_decision():
    rng = np.random.default_rng(4)
    features, labels, _ = grouped_data(rng)
    head = SVMHead(C=1.0, kernel="rbf").fit(features, labels)
    test = rng.normal(size=(30, 5))
    np.testing.assert_allclose(ExportedHead(export_head(head)).class_logits(test, 3),
                               head.decision_function(test), atol=1e-4)  # fmt: skip


def test_an_export_without_temperature_gives_what_it_gave_before():
    rng = np.random.default_rng(5)
    features, labels, _ = grouped_data(rng)
    svm = ExportedHead(export_head(SVMHead(C=1.0).fit(features, labels)))
    assert set(np.unique(svm.class_probabilities(features, 3))) == {0.0, 1.0}  # one vote
    ridge = RidgeHead(alpha=1.0).fit(features, labels)
    np.testing.assert_allclose(ExportedHead(export_head(ridge)).class_probabilities(features, 3),
                               softmax(ridge.decision_function(features)))  # fmt: skip


@pytest.mark.parametrize("bad", [[0.0], [np.nan], [-1.0], [1.0, 2.0]])
def test_check_refuses_a_temperature_that_is_not_one_positive_number(bad):
    rng = np.random.default_rng(6)
    features, labels, _ = grouped_data(rng)
    arrays = export_head(RidgeHead(alpha=1.0).fit(features, labels))
    with pytest.raises(ValueError, match="temperature"):
        ExportedHead({**arrays, "temperature": np.array(bad)}).check()
