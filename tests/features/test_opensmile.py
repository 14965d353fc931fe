import numpy as np
import opensmile
import pytest

from emotransfer.features.base import Upstream
from emotransfer.features.opensmile import ComParE, EGeMAPS, OpenSmile

RATE = 16000


def tone(amplitude=0.1, seconds=1.0, frequency=200.0):
    time = np.arange(int(seconds * RATE)) / RATE
    # a little vibrato keeps openSMILE's voicing and pitch trackers busy
    phase = 2 * np.pi * frequency * time + 2 * np.sin(2 * np.pi * 5 * time)
    return (amplitude * np.sin(phase)).astype(np.float32)


def test_egemaps_functionals():
    upstream = EGeMAPS()
    features = upstream.extract(tone())
    assert features.shape == (1, 1, 88) and features.dtype == np.float32
    assert np.all(np.isfinite(features))
    assert len(upstream.feature_names()) == 88
    assert isinstance(upstream, Upstream)


def test_compare_functionals():
    features = ComParE().extract(tone())
    assert features.shape == (1, 1, 6373)


def test_egemaps_low_level_descriptors():
    frames = EGeMAPS(feature_level="lld").extract(tone(seconds=1.0))
    assert frames.shape[0] == 1 and frames.shape[2] == 25
    assert abs(frames.shape[1] - 100) <= 6  # 10 ms hop
    longer = EGeMAPS(feature_level="lld").extract(tone(seconds=2.0))
    assert abs(longer.shape[1] - frames.shape[1] - 100) <= 2


def test_louder_tone_has_higher_loudness():
    upstream = EGeMAPS()
    column = upstream.feature_names().index("loudness_sma3_amean")
    quiet = upstream.extract(tone(amplitude=0.02))[0, 0, column]
    loud = upstream.extract(tone(amplitude=0.5))[0, 0, column]
    assert loud > 2 * quiet > 0


def test_identity_names_set_level_rate_and_version():
    identity = EGeMAPS(feature_level="lld", sample_rate=8000).identity()
    assert identity["feature_set"] == "eGeMAPSv02"
    assert identity["feature_level"] == "lld" and identity["sample_rate"] == 8000
    assert identity["opensmile"] == opensmile.__version__
    assert ComParE().identity()["feature_set"] == "ComParE_2016"
    assert EGeMAPS().identity() != EGeMAPS(feature_level="lld").identity()


def test_constructor_stores_arguments_and_does_no_work():
    upstream = OpenSmile(feature_set="no_such_set", feature_level="lld", sample_rate=8000)
    assert (upstream.feature_set, upstream.feature_level, upstream.sample_rate) == (
        "no_such_set",
        "lld",
        8000,
    )


def test_unknown_feature_set_is_named():
    with pytest.raises(ValueError, match="no_such_set.*eGeMAPSv02"):
        OpenSmile(feature_set="no_such_set").extract(tone())


def test_unknown_feature_level_is_named():
    with pytest.raises(ValueError, match="'frames'.*functionals"):
        OpenSmile(feature_level="frames").extract(tone())
