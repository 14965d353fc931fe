import pytest
from tests.tiny_models import audio_model


def test_layer_out_of_range_is_named(tiny_whisper):
    for layer in (3, -4, 99):
        with pytest.raises(ValueError, match=f"layer={layer}: the encoder gives 3 hidden states"):
            audio_model(tiny_whisper, num_classes=2, layer=layer)
    assert audio_model(tiny_whisper, num_classes=2, layer=-3).layer == -3


def test_model_output_is_typed_and_pooling_is_masked(tiny_whisper):
    import numpy as np
    import torch

    model = audio_model(tiny_whisper, num_classes=3, pooling="mean_std", dimensions=2).eval()
    short, long = np.full(4000, 0.1, "float32"), np.full(16000, 0.1, "float32")
    with torch.no_grad():
        together = model(model.prepare([short, long]))
        alone = model(model.prepare([short]))
    assert together.logits.shape == (2, 3) and together.dimensions.shape == (2, 2)
    assert together.embeddings.shape == (2, 2 * 32)
    # padding frames of the longer clip's batch do not enter the short clip's pooling
    torch.testing.assert_close(together.logits[0], alone.logits[0], atol=1e-4, rtol=1e-4)
