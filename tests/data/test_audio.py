import os
import re

import numpy as np
import pytest
import soundfile as sf

from emotransfer.data.audio import AudioError, file_problem, load_audio, unusable_file

RATE = 16000


def sine(seconds=1.0, rate=RATE, frequency=440.0, amplitude=0.3):
    time = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


def write(path, signal, rate=RATE, subtype=None):
    sf.write(path, signal, rate, subtype=subtype)
    return path


def peak_frequency(signal, rate):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.fft.rfftfreq(len(signal), 1 / rate)[np.argmax(spectrum)]


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg"])
def test_round_trip(tmp_path, suffix):
    signal = sine(0.5)
    path = write(tmp_path / f"tone.{suffix}", signal)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == len(signal)
    # ogg is lossy: compare the tone, not the samples
    tolerance = 0.05 if suffix == "ogg" else 1e-3
    assert np.max(np.abs(wave - signal)) < tolerance
    assert abs(peak_frequency(wave, RATE) - 440) < 5


def test_stereo_is_mixed_to_mean(tmp_path):
    left, right = sine(0.5, frequency=300), sine(0.5, frequency=700, amplitude=0.1)
    path = write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("native", [22050, 44100])
def test_resampled_to_16k(tmp_path, native):
    path = write(tmp_path / "odd.wav", sine(1.0, rate=native, frequency=1000), rate=native)
    wave = load_audio(path, sample_rate=RATE)
    assert len(wave) == RATE
    assert abs(peak_frequency(wave, RATE) - 1000) <= 2


def test_segment_is_cut(tmp_path):
    time = np.arange(2 * RATE) / RATE
    ramp = (0.1 + 0.4 * time / 2).astype(np.float32)  # value encodes the time
    path = write(tmp_path / "ramp.wav", ramp, subtype="FLOAT")
    wave = load_audio(path, start=0.5, end=1.25)
    assert len(wave) == int(0.75 * RATE)
    np.testing.assert_allclose(wave, ramp[RATE // 2 : int(1.25 * RATE)], atol=1e-7)
    assert len(load_audio(path, start=1.5)) == RATE // 2
    assert len(load_audio(path, start=float("nan"), end=0.25)) == RATE // 4


def assert_audio_error(path, problem, **options):
    with pytest.raises(AudioError, match=problem) as caught:
        load_audio(path, **options)
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)
    return caught.value


def test_missing_file(tmp_path):
    assert_audio_error(tmp_path / "absent.wav", "does not exist")


def test_corrupt_bytes(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    assert_audio_error(path, "cannot decode")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_audio_error(path, "cannot decode")


def test_zero_frames(tmp_path):
    path = write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32))
    assert sf.info(path).frames == 0
    assert_audio_error(path, "empty")


def test_silent(tmp_path):
    assert_audio_error(write(tmp_path / "silent.wav", np.zeros(RATE, np.float32)), "silent")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite(tmp_path, bad):
    signal = sine(0.5)
    signal[100] = bad
    path = write(tmp_path / "bad.wav", signal, subtype="FLOAT")
    assert_audio_error(path, "NaN or infinite")


def test_too_short(tmp_path):
    path = write(tmp_path / "short.wav", sine(0.05))
    error = assert_audio_error(path, "too short", min_duration=0.1)
    assert "0.050" in error.problem
    assert len(load_audio(path, min_duration=0.01)) == 800


def test_too_long(tmp_path):
    path = write(tmp_path / "long.wav", sine(1.0))
    assert_audio_error(path, "too long", max_duration=0.5)
    assert len(load_audio(path, end=0.4, max_duration=0.5)) == int(0.4 * RATE)


def test_segment_past_end(tmp_path):
    assert_audio_error(write(tmp_path / "tone.wav", sine(1.0)), "past the end", start=2.0)


@pytest.mark.parametrize("make, said", [
    (lambda path: os.mkfifo(path), "a FIFO (named pipe), not a regular file"),
    (lambda path: path.mkdir(), "a directory, not a regular file"),
])  # fmt: skip
def test_what_is_not_a_file_is_named_without_being_opened(tmp_path, make, said):
    path = tmp_path / "clip.wav"
    make(path)  # opening a FIFO would block until a writer came
    with pytest.raises(AudioError, match=f"clip.wav: {re.escape(said)}"):
        load_audio(path)
    assert file_problem(path) == said
    assert file_problem("/dev/zero") == "a character device, not a regular file"
    assert unusable_file(said) and unusable_file("file does not exist")
    assert not unusable_file("silent")
