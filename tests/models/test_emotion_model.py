import pytest

from tests.tiny_models import audio_model


def test_layer_out_of_range_is_named(tiny_whisper):
    for layer in (3, -4, 99):
        with pytest.raises(ValueError, match=f"layer={layer}: the encoder gives 3 hidden states"):
            audio_model(tiny_whisper, num_classes=2, layer=layer)
    assert audio_model(tiny_whisper, num_classes=2, layer=-3).layer == -3
