import numpy as np
import torch

from emotransfer.encoders.logmel import LogMelEncoder
from emotransfer.features.logmel import LogMel


def test_torch_log_mel_matches_the_numpy_upstream_frame_for_frame():
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, n).astype(np.float32) for n in (16000, 7000, 300)]
    encoder = LogMelEncoder(num_mels=40)
    with torch.no_grad():
        output = encoder(encoder.prepare(waves))
    assert encoder.num_states == 1 and encoder.frame_rate == 100.0
    for row, wave in enumerate(waves):
        reference = LogMel(num_mels=40).extract(wave)[0]
        frames = int(output.mask[row].sum())
        assert frames == len(reference)
        np.testing.assert_allclose(output.states[row, 0, :frames].numpy(), reference, atol=2e-3)
