import numpy as np
import torch

from emotransfer.models.layers import LayerSumHead, WeightedLayerSum


def test_weighted_layer_sum_starts_uniform_and_mixes_layers():
    layer_sum = WeightedLayerSum(num_layers=4)
    hidden = torch.arange(4.0).view(1, 4, 1).expand(2, 4, 3)
    assert np.allclose(layer_sum.weights(), 0.25)
    assert torch.allclose(layer_sum(hidden), torch.full((2, 3), 1.5))


def test_layer_sum_head_puts_weight_on_the_informative_layer():
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(2), 50)
    features = rng.normal(size=(100, 3, 4))
    features[:, 1, 0] += 4 * labels
    head = LayerSumHead(epochs=200).fit(features, labels)
    assert int(np.argmax(head.layer_weights_)) == 1
    assert (head.predict(features) == labels).mean() > 0.9
    again = LayerSumHead(epochs=200).fit(features, labels)
    np.testing.assert_array_equal(again.layer_weights_, head.layer_weights_)  # seeded
