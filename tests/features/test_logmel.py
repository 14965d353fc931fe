import numpy as np
import pytest

from emotransfer.features.base import Upstream
from emotransfer.features.logmel import LogMel

RATE = 16000


def tone(frequency, seconds=1.0, rate=RATE):
    time = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def test_shape_follows_window_and_hop():
    features = LogMel(num_mels=40).extract(tone(440))
    assert features.shape == (1, 1 + (RATE - 400) // 160, 40)
    assert features.dtype == np.float32
    assert LogMel(num_mels=20, hop_ms=20).extract(tone(440)).shape == (1, 1 + 15600 // 320, 20)


def test_short_input_is_padded_to_one_frame():
    assert LogMel(num_mels=8).extract(tone(440, seconds=0.01)).shape == (1, 1, 8)


@pytest.mark.parametrize("frequency", [1000.0, 3000.0])
def test_tone_energy_peaks_in_its_band(frequency):
    num_mels, fmin, fmax = 40, 20.0, RATE / 2
    energy = LogMel(num_mels=num_mels, fmin=fmin).extract(tone(frequency))[0].mean(axis=0)
    centers = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), num_mels + 2)[1:-1]
    expected = int(np.argmin(np.abs(centers - hz_to_mel(frequency))))
    assert int(np.argmax(energy)) == expected


def test_fmax_limits_the_filterbank():
    # with fmax=2 kHz no band reaches a 6 kHz tone: every band sits near the log floor
    energy = LogMel(num_mels=16, fmax=2000.0).extract(tone(6000.0))[0]
    full = LogMel(num_mels=16).extract(tone(6000.0))[0]
    assert energy.max() < full.max() - 10


def test_identity_and_protocol():
    upstream = LogMel(num_mels=32, hop_ms=5.0, sample_rate=8000)
    assert isinstance(upstream, Upstream)
    identity = upstream.identity()
    assert identity["upstream"] == "logmel"
    assert (identity["num_mels"], identity["hop_ms"], identity["sample_rate"]) == (32, 5.0, 8000)
    assert LogMel().identity() != LogMel(num_mels=32).identity()
