import inspect

import numpy as np
import pytest
from sklearn.base import clone

from emotransfer.models.heads import Head, LogisticRegressionHead, SVMHead
from emotransfer.models.mlp import MLPHead


def blobs(seed=0, per_class=30, dims=5, classes=3, spread=3.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, spread, (classes, dims))
    labels = np.repeat(np.arange(classes), per_class)
    return centers[labels] + rng.normal(0, 0.5, (len(labels), dims)), labels


def rings(seed=0, size=120):
    """Two concentric rings: not linearly separable."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, size)
    labels = np.arange(size) % 2
    radius = np.where(labels == 0, 1.0, 3.0) + rng.normal(0, 0.1, size)
    return np.c_[radius * np.cos(angle), radius * np.sin(angle)], labels


HEADS = [
    SVMHead(kernel="linear"),
    SVMHead(kernel="rbf"),
    LogisticRegressionHead(),
    MLPHead(hidden=16, learning_rate=0.05, epochs=60),
]
IDS = ["svm-linear", "svm-rbf", "logreg", "mlp"]


@pytest.mark.parametrize("head", HEADS, ids=IDS)
def test_heads_learn_separable_problem(head):
    train_features, train_labels = blobs(seed=1)
    rng = np.random.default_rng(2)
    test_features = train_features + rng.normal(0, 0.1, train_features.shape)
    model = clone(head).fit(train_features, train_labels)
    assert (model.predict(test_features) == train_labels).mean() > 0.95


def test_rbf_kernel_learns_rings_linear_cannot():
    features, labels = rings()
    rbf = SVMHead(kernel="rbf", C=10.0).fit(features, labels)
    linear = SVMHead(kernel="linear", C=10.0).fit(features, labels)
    assert (rbf.predict(features) == labels).mean() > 0.95
    assert (linear.predict(features) == labels).mean() < 0.8


@pytest.mark.parametrize("head", HEADS, ids=IDS)
def test_fit_returns_the_fitted_head_itself(head):
    features, labels = blobs()
    model = clone(head)
    assert model.fit(features, labels) is model
    assert (model.predict(features) == labels).mean() > 0.95


def test_svm_fit_many_equals_individual_fits():
    features, labels = blobs(seed=3, spread=1.0)
    points = [{"C": 0.001}, {"C": 1.0}, {"kernel": "rbf", "C": 0.1}, {"kernel": "rbf", "C": 10.0}]
    rng = np.random.default_rng(4)
    probe = rng.normal(0, 1.5, (50, features.shape[1]))
    many = SVMHead().fit_many(features, labels, points)
    assert len(many) == len(points)
    for point, model in zip(points, many):
        single = SVMHead(**point).fit(features, labels)
        assert model.get_params() == single.get_params()
        np.testing.assert_array_equal(model.predict(probe), single.predict(probe))
        np.testing.assert_allclose(
            model.decision_function(probe), single.decision_function(probe), rtol=1e-6
        )


def test_base_fit_many_clones_per_point():
    features, labels = blobs()
    fitted = LogisticRegressionHead().fit_many(features, labels, [{"C": 0.01}, {"C": 10.0}])
    assert [model.C for model in fitted] == [0.01, 10.0]
    assert fitted[0].model_ is not fitted[1].model_


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (SVMHead, {"C": 0.5, "kernel": "rbf", "gamma": 0.1, "class_weight": None}),
        (LogisticRegressionHead, {"C": 3.0, "max_iter": 50, "class_weight": None}),
        (
            MLPHead,
            {
                "hidden": 8,
                "dropout": 0.0,
                "weight_decay": 0.5,
                "learning_rate": 0.1,
                "epochs": 3,
                "seed": 9,
            },
        ),
    ],
)
def test_constructor_stores_arguments_and_clones(cls, params):
    head = cls(**params)
    assert head.get_params() == params
    copy = clone(head)
    assert copy is not head and copy.get_params() == params
    assert not [name for name in vars(head) if name.endswith("_")]  # no work before fit
    signature = inspect.signature(cls.__init__)
    kinds = {p.kind for name, p in signature.parameters.items() if name != "self"}
    assert kinds == {inspect.Parameter.KEYWORD_ONLY}
    with pytest.raises(TypeError):
        cls(1.0)
    assert isinstance(head, Head)
    assert set(cls.default_grid) <= set(params)


def test_unknown_kernel_is_named():
    features, labels = blobs()
    with pytest.raises(ValueError, match="kernel 'poly'"):
        SVMHead(kernel="poly").fit(features, labels)


def test_logistic_probabilities():
    features, labels = blobs()
    probabilities = LogisticRegressionHead().fit(features, labels).predict_proba(features)
    assert probabilities.shape == (len(labels), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_mlp_is_seeded():
    features, labels = blobs(spread=1.0)
    first = MLPHead(hidden=16, epochs=30, seed=5).fit(features, labels).predict_proba(features)
    second = MLPHead(hidden=16, epochs=30, seed=5).fit(features, labels).predict_proba(features)
    other = MLPHead(hidden=16, epochs=30, seed=6).fit(features, labels).predict_proba(features)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)
    assert first.shape == (len(labels), 3)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)


def test_svm_predict_many_equals_predict():
    features, labels = blobs(seed=5, spread=1.0)
    points = [{"C": 0.01}, {"C": 1.0}, {"kernel": "rbf", "C": 1.0}]
    fitted = SVMHead().fit_many(features, labels, points)
    probe = np.random.default_rng(6).normal(0, 1.5, (40, features.shape[1]))
    many = SVMHead.predict_many(fitted, probe)
    assert len(many) == len(points)
    for model, predicted in zip(fitted, many):
        np.testing.assert_array_equal(predicted, model.predict(probe))


def test_ridge_head_matches_scikit_learn_ridge_classifier():
    from sklearn.linear_model import RidgeClassifier

    from emotransfer.models.heads import RidgeHead

    rng = np.random.default_rng(0)
    features = rng.normal(size=(90, 12))
    labels = rng.integers(0, 3, 90)
    features[:, 0] += 2 * labels
    for alpha in [0.5, 50.0]:
        ours = RidgeHead(alpha=alpha, class_weight=None).fit(features, labels)
        reference = RidgeClassifier(alpha=alpha).fit(features, labels)
        # sklearn codes targets as -1/+1, ours as 0/1: the same solution up to (x + 1) / 2
        expected = (reference.decision_function(features) + 1) / 2
        np.testing.assert_allclose(ours.decision_function(features), expected, atol=1e-8)
    many = RidgeHead().fit_many(features, labels, [{"alpha": 0.5}, {"alpha": 50.0}])
    single = RidgeHead(alpha=50.0).fit(features, labels)
    np.testing.assert_allclose(many[1].decision_function(features),
                               single.decision_function(features))  # fmt: skip
