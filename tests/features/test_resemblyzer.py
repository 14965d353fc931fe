"""Resemblyzer with the real pretrained weights shipped in the PyPI package."""

import pickle

import numpy as np
import pytest
import torch

from emotransfer import registry
from emotransfer.features.base import Upstream
from emotransfer.features.resemblyzer import Resemblyzer

RATE = 16000


def voice(f0, seconds=2.0, seed=0):
    """A harmonic 'voice': f0 (randomly detuned by up to 3 %) with vibrato."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * RATE)) / RATE
    drift = rng.uniform(0.97, 1.03)
    phase = 2 * np.pi * f0 * drift * time + 2 * np.sin(2 * np.pi * rng.uniform(3, 6) * time)
    wave = sum(np.sin(k * phase) / k for k in range(1, 15))
    return (0.1 * wave + 0.003 * rng.standard_normal(time.size)).astype(np.float32)


@pytest.fixture(scope="module")
def upstream():
    return Resemblyzer()


def test_shape_and_states(upstream):
    states = upstream.extract(voice(150, seconds=1.5))
    assert states.shape == (4, 1 + 24000 // 160, 256) and states.dtype == np.float32
    assert (upstream.num_layers + 1, upstream.hidden_size) == (4, 256)
    assert np.allclose(np.linalg.norm(states[3], axis=1), 1.0, atol=1e-4)
    assert states[3].min() >= 0  # ReLU before the normalisation
    assert not np.allclose(states[0], states[2])
    assert isinstance(upstream, Upstream)


def test_last_frame_is_the_packages_own_embedding(upstream):
    from resemblyzer import VoiceEncoder, audio  # after emotransfer's quiet import of webrtcvad

    wave = voice(200, seconds=1.6)
    mel = audio.wav_to_mel_spectrogram(audio.normalize_volume(wave, -30, increase_only=True))
    with torch.no_grad():
        expected = VoiceEncoder(device="cpu", verbose=False)(torch.from_numpy(mel)[None])[0]
    np.testing.assert_allclose(upstream.extract(wave)[3, -1], expected.numpy(), atol=1e-5)


def test_same_voice_is_more_similar_than_another_voice(upstream):
    def embedding(wave):
        mean = upstream.extract(wave)[3].mean(axis=0)
        return mean / np.linalg.norm(mean)

    low_a, low_b = embedding(voice(120, seed=1)), embedding(voice(120, seed=2))
    high = embedding(voice(220, seed=3))
    assert low_a @ low_b > low_a @ high + 0.1
    assert low_a @ low_b > low_b @ high + 0.1


def test_volume_normalisation_raises_quiet_clips_only(upstream):
    wave = voice(150, seconds=1.0)
    quiet = upstream.extract(0.05 * wave)
    np.testing.assert_allclose(quiet, upstream.extract(0.02 * wave), atol=1e-4)
    raw = Resemblyzer(normalize_volume=False)
    assert not np.allclose(raw.extract(0.05 * wave), raw.extract(0.02 * wave), atol=1e-3)
    assert np.all(np.isfinite(upstream.extract(np.zeros(1600, dtype=np.float32))))


def test_trimming_silences_shortens_the_clip():
    gap = np.zeros(RATE, dtype=np.float32)
    wave = np.concatenate([voice(150, seconds=1.0), gap, voice(150, seconds=1.0, seed=1)])
    kept = Resemblyzer(trim_silences=False).extract(wave).shape[1]
    trimmed = Resemblyzer(trim_silences=True).extract(wave).shape[1]
    assert kept == 1 + len(wave) // 160 and trimmed < kept - 50


def test_picklable_identity_and_registry(upstream):
    upstream.extract(voice(150, seconds=0.5))
    restored = pickle.loads(pickle.dumps(upstream))
    assert restored._network is None and restored.normalize_volume
    identity = upstream.identity()
    assert identity["upstream"] == "resemblyzer" and identity["resemblyzer"] == "0.1.4"
    assert len(identity["weights"]) == 16
    assert Resemblyzer(trim_silences=True).identity() != identity
    assert isinstance(registry.build("upstream", "resemblyzer"), Resemblyzer)
    assert len(upstream.extract_batch([voice(150, 0.3), voice(150, 0.6)])) == 2


def test_bad_input_is_named(upstream):
    with pytest.raises(ValueError, match="non-empty mono"):
        upstream.extract(np.zeros(0, dtype=np.float32))
