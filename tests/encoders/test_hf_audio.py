import numpy as np
import pytest
import torch

from emotransfer.encoders.hf_audio import HFAudioEncoder
from emotransfer.features.hf import HFEncoder


@pytest.mark.parametrize("model", ["tiny_whisper", "tiny_wav2vec2"])
def test_trainable_states_equal_the_frozen_extractor(model, request):
    folder = request.getfixturevalue(model)
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, n).astype(np.float32) for n in (16000, 16000)]
    encoder = HFAudioEncoder(model=folder).eval()
    with torch.no_grad():
        output = encoder(encoder.prepare(waves))
    frozen = HFEncoder(model=folder, whisper_input="real_length").extract_batch(waves)
    assert output.states.shape[1] == encoder.num_states == encoder.num_layers + 1
    for row, states in enumerate(frozen):
        frames = int(output.mask[row].sum())
        np.testing.assert_allclose(output.states[row, :, :frames].numpy(), states, atol=1e-4)


def test_the_encoder_names_its_parts(tiny_whisper):
    encoder = HFAudioEncoder(model=tiny_whisper)
    assert len(encoder.blocks()) == encoder.num_layers == 2
    front = {id(p) for p in encoder.front_end_parameters()}
    assert id(encoder.module.conv1.weight) in front
    encoder.freeze_front_end()
    assert not encoder.module.conv1.weight.requires_grad
    assert encoder.module.layers[0].fc1.weight.requires_grad
    with pytest.raises(ValueError, match="layer=5: the encoder gives 3 hidden states"):
        encoder.check_layer(5)
