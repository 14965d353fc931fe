import io
import json

import numpy as np
import pytest
import soundfile as sf

from emotransfer.data.corrupt import (
    CODEC_FORMATS,
    AddNoise,
    BandLimit,
    Chain,
    Clip,
    Codec,
    Gain,
    Reverb,
    active_mask,
    build_corruption,
    simulated_rir,
)

RATE = 16000


def glide(seconds=1.0, rate=RATE, amplitude=0.3):
    """A harmonic tone gliding 120 -> 240 Hz under a slow envelope: no period repeats."""
    time = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 * 2 ** (time / seconds)) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * time)
    return amplitude * tone * envelope / np.max(np.abs(tone))


def speech_like(rate=RATE):
    """Voiced stretches with silent pauses, as speech has."""
    silence = np.zeros(rate // 4)
    return np.concatenate([silence, glide(0.5, rate, 0.05), silence, glide(0.4, rate, 0.05)])


def band_power(wave, rate, low, high):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave)))) ** 2  # window: no leakage
    freqs = np.fft.rfftfreq(len(wave), 1 / rate)
    return spectrum[(freqs >= low) & (freqs < high)].sum()


def active_snr(clean, noisy):
    mask = active_mask(clean, RATE)
    return 10 * np.log10(np.mean(clean[mask] ** 2) / np.mean((noisy - clean)[mask] ** 2))


@pytest.mark.parametrize("noise", ["white", "pink", "brown", "babble"])
def test_noise_has_exact_snr_on_active_signal(noise):
    clean = speech_like()
    noisy = AddNoise(snr_db=5.0, noise=noise)(clean, RATE, np.random.default_rng(1))
    assert noisy.dtype == np.float32 and noisy.shape == clean.shape
    assert 0.3 < active_mask(clean, RATE).mean() < 0.7  # the pauses are left out
    assert abs(active_snr(clean, noisy) - 5.0) < 0.1


def test_noise_colours_tilt_the_spectrum():
    rng = np.random.default_rng(0)
    clean = glide(1.0, amplitude=1e-3)
    tilts = {}
    for noise in ["white", "pink", "brown"]:
        added = AddNoise(snr_db=-30.0, noise=noise)(clean, RATE, rng) - clean
        tilts[noise] = band_power(added, RATE, 50, 500) / band_power(added, RATE, 4000, 7500)
    # expected 450 / 3500 = 0.13, ln(10) / ln(7500 / 4000) = 3.7, (1/50 - 1/500) / ... = 154
    assert tilts["white"] < 0.3 and 2 < tilts["pink"] < 6 and tilts["brown"] > 50


def test_snr_range_is_drawn_per_call():
    clean = speech_like()
    noise = AddNoise(snr_db=(0.0, 20.0))
    rng = np.random.default_rng(2)
    snrs = [active_snr(clean, noise(clean, RATE, rng)) for _ in range(3)]
    assert all(0 <= snr <= 20 for snr in snrs) and len({round(s, 3) for s in snrs}) == 3


def test_noise_from_user_folder_is_looped(tmp_path):
    tone = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(RATE // 5) / RATE)  # 0.2 s, shorter
    sf.write(tmp_path / "hum.wav", tone, RATE, subtype="FLOAT")
    clean = speech_like()
    noisy = AddNoise(snr_db=0.0, noise=str(tmp_path))(clean, RATE, np.random.default_rng(0))
    assert abs(active_snr(clean, noisy) - 0.0) < 0.1
    added = noisy - clean
    assert band_power(added, RATE, 990, 1010) > 0.95 * band_power(added, RATE, 0, RATE / 2)
    assert np.std(added[-RATE // 10 :]) > 0.01  # 0.2 s of noise looped over 1.15 s


def test_missing_noise_source_is_an_error():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AddNoise(snr_db=0.0, noise="/no/such/noise")(speech_like(), RATE, np.random.default_rng())


def schroeder_rt60(response, rate):
    decay = np.cumsum(response[::-1] ** 2)[::-1]
    decay_db = 10 * np.log10(decay / decay[0])
    fit = np.flatnonzero((decay_db <= -5) & (decay_db >= -35))
    slope, _ = np.polyfit(fit / rate, decay_db[fit], 1)
    return -60 / slope


@pytest.mark.parametrize("rt60", [0.2, 0.5, 1.0])
def test_simulated_rir_decays_at_rt60(rt60):
    response = simulated_rir(rt60, RATE, np.random.default_rng(0), direct_ratio_db=-10.0)
    assert abs(schroeder_rt60(response, RATE) - rt60) < 0.2 * rt60


def test_reverb_smears_into_pauses_and_keeps_level():
    clean = speech_like()
    wet = Reverb(rt60=0.6)(clean, RATE, np.random.default_rng(0))
    pause = slice(RATE // 4 + RATE // 2, RATE // 4 + RATE // 2 + RATE // 8)
    assert np.max(np.abs(clean[pause])) == 0 and np.std(wet[pause]) > 1e-3
    assert wet.shape == clean.shape
    assert np.std(wet) == pytest.approx(np.std(clean), rel=1e-3)


def test_reverb_with_user_impulse_response(tmp_path):
    response = np.zeros(2000)
    response[[5, 805]] = [1.0, 0.5]  # leading delay is cut, then direct path and one echo
    sf.write(tmp_path / "room.wav", response, RATE, subtype="FLOAT")
    clean = glide(0.5)
    wet = Reverb(impulse_response=str(tmp_path / "room.wav"))(clean, RATE, np.random.default_rng())
    expected = clean.copy()
    expected[800:] += 0.5 * clean[:-800]
    expected *= np.std(clean) / np.std(expected)
    np.testing.assert_allclose(wet, expected, atol=1e-4)


@pytest.mark.parametrize("telephone", [False, True])
def test_band_limit_removes_energy_outside_the_band(telephone):
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, RATE)
    narrow = BandLimit(telephone=telephone)(noise, RATE, np.random.default_rng(0))
    assert narrow.shape == noise.shape

    def gain_db(low, high):
        return 10 * np.log10(
            band_power(narrow, RATE, low, high) / band_power(noise, RATE, low, high)
        )

    assert abs(gain_db(500, 3000)) < 1.0
    assert gain_db(5000, 8000) < -35
    assert gain_db(4000, 8000) < (-50 if telephone else -15)
    assert gain_db(0, 200) < -30


def test_band_limit_at_telephone_rate_and_beyond_nyquist():
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 8000)
    for corruption in [BandLimit(), BandLimit(high_hz=6000.0, telephone=False)]:
        out = corruption(noise, 8000, np.random.default_rng(0))
        assert out.shape == noise.shape and np.all(np.isfinite(out))


@pytest.mark.parametrize("codec", ["mp3", "ogg", "opus"])
def test_codec_is_lossy_but_aligned(codec):
    clean = glide(1.0)
    coded = Codec(format=codec, bitrate=32000)(clean, RATE, np.random.default_rng(0))
    assert coded.shape == clean.shape and coded.dtype == np.float32
    assert np.max(np.abs(coded - clean)) > 1e-3
    assert np.corrcoef(coded, clean)[0, 1] > 0.8


def test_codec_delay_is_compensated_and_odd_rates_resampled():
    clean = glide(1.0)
    # At 8 kbit/s LAME writes no delay tag: the decoder returns 1105 samples of delay.
    coded = Codec(format="mp3", bitrate=8000)(clean, RATE, np.random.default_rng(0))
    assert np.corrcoef(coded, clean)[0, 1] > 0.8
    odd = glide(0.5, rate=22050)
    coded = Codec(format="opus", bitrate=32000)(odd, 22050, np.random.default_rng(0))
    assert coded.shape == odd.shape and np.corrcoef(coded, odd)[0, 1] > 0.8


@pytest.mark.parametrize("codec", ["mp3", "opus"])
def test_codec_bitrate_mapping_reaches_the_asked_rate(codec):
    spec, clean = CODEC_FORMATS[codec], glide(2.0).astype(np.float32)
    buffer = io.BytesIO()
    level = spec.level(32000, RATE)
    sf.write(buffer, clean, RATE, format=spec.container, subtype=spec.subtype,
             compression_level=level, bitrate_mode=spec.bitrate_mode)  # fmt: skip
    assert buffer.tell() * 8 / 2.0 == pytest.approx(32000, rel=0.15)


def test_codec_rejects_bad_settings():
    wave = glide(0.1)
    with pytest.raises(ValueError, match="bit/s"):
        Codec(format="mp3", bitrate=32)(wave, RATE, np.random.default_rng())
    with pytest.raises(ValueError, match="known: mp3, ogg, opus"):
        Codec(format="aac")(wave, RATE, np.random.default_rng())


def test_clip_and_gain():
    wave = glide(0.2, amplitude=0.5)
    clipped = Clip(level=0.3)(wave, RATE, np.random.default_rng())
    threshold = 0.3 * np.max(np.abs(wave))
    assert np.max(np.abs(clipped)) == pytest.approx(threshold, rel=1e-6)
    quiet = np.abs(wave) < threshold
    np.testing.assert_allclose(clipped[quiet], wave[quiet], atol=1e-7)
    louder = Gain(db=6.0)(wave, RATE, np.random.default_rng())
    np.testing.assert_allclose(louder, wave * 10 ** (6 / 20), atol=1e-6)
    too_loud = Gain(db=20.0)(wave, RATE, np.random.default_rng())
    assert np.max(np.abs(too_loud)) == pytest.approx(1.0)  # scaled back, not clipped
    np.testing.assert_allclose(too_loud, wave / np.max(np.abs(wave)), atol=1e-6)
    drawn = Gain(db=(-12.0, -6.0))(wave, RATE, np.random.default_rng(0))
    assert 10 ** (-12 / 20) <= np.max(np.abs(drawn)) / np.max(np.abs(wave)) <= 10 ** (-6 / 20)


ALL = [
    AddNoise(snr_db=(0, 10), noise="babble"),
    Reverb(rt60=(0.2, 0.8)),
    BandLimit(),
    Codec(format="ogg", bitrate=32000),
    Clip(level=0.5),
    Gain(db=(-6, 6)),
    Chain(steps=[Reverb(rt60=0.3), AddNoise(snr_db=5, noise="pink")], probability=0.5),
]


@pytest.mark.parametrize("corruption", ALL, ids=lambda c: c.name)
def test_same_seed_same_output_and_output_is_safe(corruption):
    wave = speech_like()
    first = corruption(wave, RATE, np.random.default_rng(7))
    np.testing.assert_array_equal(first, corruption(wave, RATE, np.random.default_rng(7)))
    loud = corruption(wave / np.max(np.abs(wave)), RATE, np.random.default_rng(7))
    silent = corruption(np.zeros(RATE // 2), RATE, np.random.default_rng(7))
    for out in (first, loud, silent):
        assert out.dtype == np.float32 and np.all(np.isfinite(out))
        assert np.max(np.abs(out)) <= 1.0
    assert len(silent) == RATE // 2 and np.all(silent == 0)
    json.dumps(corruption.describe())


def test_chain_probability_and_describe():
    wave = speech_like()
    never = Chain(steps=[Gain(db=-20)], probability=0.0)
    np.testing.assert_array_equal(never(wave, RATE, np.random.default_rng()), wave.astype("f4"))
    always = Chain(steps=[Gain(db=-20), Gain(db=20)])
    np.testing.assert_allclose(always(wave, RATE, np.random.default_rng()), wave, atol=1e-7)
    assert always.describe() == {
        "name": "chain",
        "steps": [{"name": "gain", "db": -20}, {"name": "gain", "db": 20}],
        "probability": 1.0,
    }


def test_build_corruption_from_config():
    noise = build_corruption({"name": "noise", "snr_db": 10})
    assert isinstance(noise, AddNoise) and noise.snr_db == 10 and noise.noise == "white"
    chain = build_corruption([{"name": "reverb", "rt60": [0.3, 0.6]}, {"name": "codec"}])
    assert isinstance(chain, Chain) and [type(s) for s in chain.steps] == [Reverb, Codec]
    nested = build_corruption(
        {"name": "chain", "probability": 0.5, "steps": [{"name": "clip", "level": 0.2}]}
    )
    assert nested.probability == 0.5 and isinstance(nested.steps[0], Clip)
    out = chain(speech_like(), RATE, np.random.default_rng(0))
    assert out.shape == speech_like().shape


def test_build_corruption_errors():
    with pytest.raises(KeyError, match="unknown corruption 'echo'; known: band_limit, chain"):
        build_corruption({"name": "echo"})
    with pytest.raises(TypeError, match="bad parameters for corruption 'gain'"):
        build_corruption({"name": "gain", "decibels": 3})


def test_a_plugin_corruption_is_built_only_when_allowed():
    from emotransfer.registry import PluginError

    name = "tests.data.plugins:Silence"
    with pytest.raises(PluginError, match="is a class path"):
        build_corruption({"name": name})
    chain = build_corruption([{"name": name, "gain": 0.5}], plugins=[name])
    wave = np.ones(4, dtype=np.float32)
    assert chain(wave, 16000, np.random.default_rng(0)).tolist() == [0.5] * 4
