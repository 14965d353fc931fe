import pytest

from emotransfer.models.audio_model import build_model


def test_layer_out_of_range_is_named(tiny_whisper):
    for layer in (3, -4, 99):
        with pytest.raises(ValueError, match=f"layer={layer}: the encoder gives 3 hidden states"):
            build_model(model=tiny_whisper, num_classes=2, layer=layer)
    assert build_model(model=tiny_whisper, num_classes=2, layer=-3).layer == -3
