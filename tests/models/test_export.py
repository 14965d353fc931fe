import numpy as np
import pytest

from emotransfer.models.export import ExportedHead, export_head
from emotransfer.models.heads import LogisticRegressionHead, RidgeHead, SVMHead
from emotransfer.models.mlp import MLPHead


@pytest.mark.parametrize("head", [RidgeHead(alpha=3.0), LogisticRegressionHead(C=0.5),
                                  SVMHead(C=0.1), SVMHead(C=1.0, kernel="rbf"),
                                  MLPHead(hidden=8, epochs=30)])  # fmt: skip
def test_exported_heads_predict_exactly_like_the_fitted_ones(head):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(80, 6))
    labels = np.arange(80) % 4
    features[:, 0] += labels
    head.fit(features, labels)
    test = rng.normal(size=(40, 6))
    exported = ExportedHead(export_head(head))
    np.testing.assert_array_equal(exported.predict(test), head.predict(test))
