import numpy as np
import pytest

from emotransfer.models.da_autoencoder import DAAutoencoderHead
from emotransfer.models.dann import DANNHead
from emotransfer.models.export import ExportedHead, export_head
from emotransfer.models.heads import LogisticRegressionHead, RidgeHead, SVMHead
from emotransfer.models.mlp import MLPHead
from emotransfer.models.multitask import MultitaskHead


@pytest.mark.parametrize("head", [RidgeHead(alpha=3.0), LogisticRegressionHead(C=0.5),
                                  SVMHead(C=0.1), SVMHead(C=1.0, kernel="rbf"),
                                  MLPHead(hidden=8, epochs=30), DANNHead(hidden=8, epochs=5),
                                  MultitaskHead(hidden=8, epochs=30)])  # fmt: skip
def test_exported_heads_predict_exactly_like_the_fitted_ones(head):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(80, 6))
    labels = np.arange(80) % 4
    features[:, 0] += labels
    head.fit(features, labels)
    test = rng.normal(size=(40, 6))
    exported = ExportedHead(export_head(head))
    np.testing.assert_array_equal(exported.predict(test), head.predict(test))


def test_torch_heads_export_their_probabilities_and_the_autoencoder_is_refused():
    rng = np.random.default_rng(1)
    features, labels = rng.normal(size=(40, 5)), np.arange(40) % 2
    for head in (DANNHead(hidden=8, epochs=5), MultitaskHead(hidden=8, epochs=20)):
        head.fit(features, labels)
        scores = ExportedHead(export_head(head)).scores(features)
        np.testing.assert_allclose(scores, head.predict_proba(features), atol=1e-5)
    autoencoder = DAAutoencoderHead(latent_dim=8, heads=2, hidden=8, epochs=2)
    with pytest.raises(ValueError, match="cannot export a DAAutoencoderHead"):
        export_head(autoencoder.fit(features, labels))


@pytest.mark.parametrize("head", [LogisticRegressionHead(C=1.0), RidgeHead(alpha=1.0),
                                  SVMHead(C=1.0), MLPHead(hidden=8, epochs=30)])  # fmt: skip
def test_a_head_that_never_saw_a_class_scores_in_the_run_columns(head):
    rng = np.random.default_rng(2)
    features = rng.normal(size=(60, 4))
    labels = 1 + np.arange(60) % 3  # class 0 of the run (and class 4) never seen
    features[:, 0] += labels
    exported = ExportedHead(export_head(head.fit(features, labels))).check()
    probabilities = exported.class_probabilities(features, 5)
    assert probabilities.shape == (60, 5) and (probabilities[:, 4] == 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(probabilities.argmax(axis=1), head.predict(features))
    if isinstance(head, LogisticRegressionHead | SVMHead):  # they store the classes they saw
        assert exported.class_indices().tolist() == [1, 2, 3]
        assert (probabilities[:, 0] == 0).all()


def test_check_refuses_an_incomplete_or_inconsistent_export():
    rng = np.random.default_rng(3)
    arrays = export_head(LogisticRegressionHead().fit(rng.normal(size=(30, 3)), np.arange(30) % 3))
    assert ExportedHead(arrays).check().input_size() == 3
    with pytest.raises(ValueError, match="needs the arrays \\['offset'\\]"):
        ExportedHead({k: v for k, v in arrays.items() if k != "offset"}).check()
    with pytest.raises(ValueError, match="'kind_name' must be one of"):
        ExportedHead({**arrays, "kind_name": np.frombuffer(b"forest", np.uint8)}).check()
    legacy = {k: v for k, v in arrays.items() if k != "kind_name"}
    with pytest.raises(ValueError, match="'kind' one of"):
        ExportedHead({**legacy, "kind": np.array([7])}).check()
    with pytest.raises(ValueError, match="2 classes but 3 outputs"):
        ExportedHead({**arrays, "classes": np.array([0, 1])}).check()


def test_the_weighted_sum_probe_exports_its_layer_mix():
    from emotransfer.models.layers import LayerSumHead

    rng = np.random.default_rng(2)
    features = rng.normal(size=(60, 4, 5))  # (N, L + 1, D)
    labels = np.arange(60) % 3
    features[:, 2, 0] += 2 * labels  # only hidden state 2 knows the class
    head = LayerSumHead(epochs=200, learning_rate=0.05).fit(features, labels)
    exported = ExportedHead(export_head(head)).check()
    assert exported.kind() == "layer_sum" and exported.input_shape() == (4, 5)
    np.testing.assert_allclose(exported.class_probabilities(features, 3),
                               head.predict_proba(features), atol=1e-5)  # fmt: skip
    assert exported.arrays["mix"].argmax() == 2


def test_a_two_class_logistic_regression_exports_both_classes():
    rng = np.random.default_rng(0)
    features = np.r_[rng.normal(-1, 1, (30, 4)), rng.normal(1, 1, (30, 4))]
    labels = np.r_[np.zeros(30, int), np.ones(30, int)]
    head = LogisticRegressionHead().fit(features, labels)
    exported = ExportedHead(export_head(head))
    np.testing.assert_allclose(exported.class_probabilities(features, 2),
                               head.model_.predict_proba(features), atol=1e-9)  # fmt: skip


def test_a_multitask_head_exports_its_dimensions_beside_its_classes():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 5))
    labels = np.arange(40) % 2
    targets = {"arousal": features[:, 0], "valence": -features[:, 1]}
    head = MultitaskHead(epochs=60, hidden=8)
    head.fit(features, labels, targets=targets)
    exported = ExportedHead(export_head(head))
    assert exported.value_names() == ["arousal", "valence"]
    joint = head.predict_dimensions(features)
    expected = np.stack([joint["arousal"], joint["valence"]], 1)
    np.testing.assert_allclose(exported.values(features), expected, atol=1e-5)
    np.testing.assert_allclose(exported.scores(features), head.predict_proba(features), atol=1e-5)
    plain = ExportedHead(export_head(RidgeHead(alpha=1.0).fit(features, labels)))
    assert plain.value_names() == [] and plain.values(features).shape == (40, 0)
