"""Acoustic conditions: additive noise, reverberation, band limits, lossy codecs, clipping, gain.

Each corruption is a small class built like a scikit-learn estimator: the constructor stores its
keyword arguments unchanged and does no work, so ``describe()`` (name plus parameters) is a
complete record of it for run logs. Calling it corrupts one signal::

    corrupted = corruption(wave, sample_rate, rng)

``wave`` is a 1-D float array; the result is float32 mono of the same length. A parameter given
as a ``(low, high)`` pair is drawn uniformly from that range with ``rng`` on every call, so one
corruption serves as training augmentation and, with a fixed seed, rebuilds a corrupted test set
exactly. Outputs never hold NaN and their peak never exceeds 1: where a corruption would push it
higher, the whole signal is scaled down (a gain, not a clip), which leaves what the corruption
did (SNR, spectrum, codec artefacts) unchanged.

Configs name corruptions by their registry names (``registry.names("corruption")``);
:func:`build_corruption` turns a dict, or a list of dicts (a :class:`Chain`), into the callable.

Example:
    >>> rng = np.random.default_rng(0)
    >>> wave = 0.1 * np.sin(np.arange(16000) / 5.0)
    >>> corrupt = build_corruption(
    ...     [{"name": "noise", "snr_db": [5, 15]}, {"name": "gain", "db": -6}]
    ... )
    >>> corrupt(wave, 16000, rng).shape
    (16000,)
    >>> corrupt.describe()["steps"][0]
    {'name': 'noise', 'snr_db': [5, 15], 'noise': 'white'}
"""

from __future__ import annotations

import inspect
import io
import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import soundfile
import soxr
from scipy import signal as sps

from emotransfer import registry
from emotransfer.data.audio import load_audio

Range = float | tuple[float, float]
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3")

ACTIVE_FRAME_S = 0.02  # frame length of the activity detector used for SNR
ACTIVE_FLOOR_DB = 40.0  # frames quieter than the loudest frame by more are inactive
BABBLE_VOICES = 6
FILTER_ORDER = 6  # Butterworth order of BandLimit (doubled in dB by the zero-phase filtfilt)
TELEPHONE_RATE = 8000
MU_LAW = 255  # G.711 mu-law, 8-bit codes
MAX_CODEC_DELAY = 4096  # samples; LAME adds 1105 (576 encoder + 529 decoder) when untagged


def draw(value: Range | Sequence[float], rng: np.random.Generator) -> float:
    """A fixed value, or one drawn uniformly from a ``(low, high)`` pair (list from a config).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> draw(3, rng), 2.0 <= draw((2, 4), rng) <= 4.0
        (3.0, True)
    """
    if isinstance(value, tuple | list):
        low, high = value
        return float(rng.uniform(low, high))
    return float(value)


def active_mask(
    wave: np.ndarray, sample_rate: int, *, floor_db: float = ACTIVE_FLOOR_DB
) -> np.ndarray:
    """Samples in 20 ms frames whose energy is within ``floor_db`` of the loudest frame.

    SNRs are set on the power of these samples, so pauses do not lower the speech level.

    Example:
        >>> wave = np.concatenate([np.zeros(1600), np.ones(1600)])
        >>> active_mask(wave, 16000).mean()
        np.float64(0.5)
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.size == 0:
        return np.zeros(0, dtype=bool)
    frame = max(1, int(round(ACTIVE_FRAME_S * sample_rate)))
    count = -(-wave.size // frame)
    padded = np.zeros(count * frame)
    padded[: wave.size] = wave**2
    energy = padded.reshape(count, frame).mean(axis=1)
    active = energy > energy.max() * 10 ** (-floor_db / 10)
    return np.repeat(active, frame)[: wave.size]


def audio_files(source: str | Path) -> list[Path]:
    """``source`` itself if it is a file, else the audio files below the folder, sorted.

    Raises:
        FileNotFoundError: ``source`` does not exist or the folder holds no audio file.

    Example:
        >>> audio_files("/no/such/folder")
        Traceback (most recent call last):
        FileNotFoundError: audio file or folder '/no/such/folder' does not exist
    """
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"audio file or folder {str(path)!r} does not exist")
    files = sorted(
        p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.name[0] != "."
    )
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {str(path)!r}")
    return files


class _Corruption:
    """Parameters are the constructor arguments: ``describe`` and ``repr`` read them back."""

    name: ClassVar[str] = ""

    def params(self) -> dict[str, Any]:
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for run records (json-serialisable for config values)."""
        return {"name": self.name, **self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params().items())
        return f"{type(self).__name__}({args})"


class AddNoise(_Corruption):
    """Add noise at an exact SNR, measured on the active part of the signal.

    The noise gain makes ``10 log10(P_signal / P_noise) == snr_db``, both powers taken over the
    samples of :func:`active_mask` (the noise over the same samples, so non-stationary noise is
    measured where the speech is). A silent input is returned unchanged.

    Args:
        snr_db: signal-to-noise ratio in dB, or a ``(low, high)`` range.
        noise: ``"white"``, ``"pink"`` (1/f power), ``"brown"`` (1/f^2), ``"babble"`` (six
            synthetic harmonic voices with formants and syllable rhythm), or a noise file or
            folder: a random file, from a random offset, looped to the signal length.

    Example:
        >>> wave = 0.1 * np.sin(np.arange(8000) / 3.0)
        >>> noisy = AddNoise(snr_db=10.0, noise="pink")(wave, 16000, np.random.default_rng(0))
        >>> round(float(10 * np.log10(np.mean(wave**2) / np.mean((noisy - wave) ** 2))), 2)
        10.0
    """

    name = "noise"

    def __init__(self, *, snr_db: Range, noise: str = "white") -> None:
        self.snr_db = snr_db
        self.noise = noise

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = _as_mono(wave)
        snr_db = draw(self.snr_db, rng)
        noise = self._noise(wave.size, sample_rate, rng)
        return _finish(wave + _noise_gain(wave, noise, snr_db, sample_rate) * noise)

    def _noise(self, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        generator = NOISES.get(self.noise)
        if generator is not None:
            return generator(length, sample_rate, rng)
        files = _files_cached(self.noise)
        source = _load_cached(str(files[rng.integers(len(files))]), sample_rate)
        start = int(rng.integers(source.size))
        return np.take(source, np.arange(start, start + length), mode="wrap").astype(np.float64)


def white_noise(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise with unit RMS."""
    return _unit_rms(rng.standard_normal(length))


def pink_noise(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with 1/f power spectrum (-3 dB per octave), unit RMS.

    Example:
        >>> round(float(np.std(pink_noise(1000, 16000, np.random.default_rng(0)))), 6)
        1.0
    """
    return _colored_noise(length, rng, exponent=1.0)


def brown_noise(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with 1/f^2 power spectrum (-6 dB per octave), unit RMS."""
    return _colored_noise(length, rng, exponent=2.0)


def babble_noise(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of ``BABBLE_VOICES`` random harmonic voices, unit RMS.

    Each voice is a sawtooth (every harmonic, 1/k amplitude) on a wavering F0 of 90-250 Hz,
    through three formant resonators, gated by a 3-5 Hz syllable rhythm.

    Example:
        >>> babble_noise(1600, 16000, np.random.default_rng(0)).shape
        (1600,)
    """
    time = np.arange(length) / sample_rate
    voices = [_voice(time, sample_rate, rng) for _ in range(BABBLE_VOICES)]
    return _unit_rms(np.sum(voices, axis=0))


NOISES: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "white": white_noise,
    "pink": pink_noise,
    "brown": brown_noise,
    "babble": babble_noise,
}


class Reverb(_Corruption):
    """Convolve with a room impulse response; the output keeps the input length and RMS level.

    The simulated response (:func:`simulated_rir`) is exponentially decaying Gaussian noise
    reaching -60 dB at ``rt60`` seconds, after a direct-path impulse whose energy is
    ``direct_ratio_db`` above that of the tail. A user response (file or folder: a random file)
    replaces it; it is cut to start at its peak so the output is not delayed, and ``rt60`` and
    ``direct_ratio_db`` are then ignored. The convolution is cut to the input length (the tail
    past the end is dropped).

    Args:
        rt60: reverberation time in seconds, or a ``(low, high)`` range.
        direct_ratio_db: direct-to-reverberant energy ratio of the simulated response.
        impulse_response: impulse response file or folder; ``None`` simulates one.

    Example:
        >>> wave = 0.1 * np.sin(np.arange(8000) / 3.0)
        >>> wet = Reverb(rt60=0.3)(wave, 16000, np.random.default_rng(0))
        >>> wet.shape, round(float(np.std(wet) / np.std(wave)), 3)
        ((8000,), 1.0)
    """

    name = "reverb"

    def __init__(
        self,
        *,
        rt60: Range = 0.5,
        direct_ratio_db: float = 0.0,
        impulse_response: str | None = None,
    ) -> None:
        self.rt60 = rt60
        self.direct_ratio_db = direct_ratio_db
        self.impulse_response = impulse_response

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = _as_mono(wave)
        response = self._response(sample_rate, rng)
        wet = sps.fftconvolve(wave, response)[: wave.size] if wave.size else wave
        return _finish(_match_rms(wet, wave))

    def _response(self, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        if self.impulse_response is None:
            rt60 = draw(self.rt60, rng)
            return simulated_rir(rt60, sample_rate, rng, direct_ratio_db=self.direct_ratio_db)
        files = _files_cached(self.impulse_response)
        response = _load_cached(str(files[rng.integers(len(files))]), sample_rate)
        return response[int(np.argmax(np.abs(response))) :].astype(np.float64)


def simulated_rir(
    rt60: float, sample_rate: int, rng: np.random.Generator, *, direct_ratio_db: float = 0.0
) -> np.ndarray:
    """A direct-path impulse then Gaussian noise decaying by 60 dB over ``rt60`` seconds.

    Example:
        >>> rir = simulated_rir(0.5, 16000, np.random.default_rng(0))
        >>> rir.shape, round(float(rir[0] ** 2 / np.sum(rir[1:] ** 2)), 6)
        ((8000,), 1.0)
    """
    if not rt60 > 0:
        raise ValueError(f"rt60 must be positive seconds, got {rt60}")
    length = max(2, int(round(rt60 * sample_rate)))
    time = np.arange(1, length) / sample_rate
    tail = rng.standard_normal(length - 1) * 10 ** (-3 * time / rt60)
    direct = math.sqrt(np.sum(tail**2) * 10 ** (direct_ratio_db / 10))
    return np.concatenate([[direct], tail])


class BandLimit(_Corruption):
    """Band-pass filter, optionally as a telephone channel.

    A zero-phase Butterworth band-pass (order ``FILTER_ORDER``, ``sosfiltfilt``); a band edge at
    or beyond 0 Hz / Nyquist is left out. ``telephone=True`` then resamples to 8 kHz (soxr),
    applies G.711-style 8-bit mu-law quantisation and resamples back.

    Args:
        low_hz, high_hz: pass band in Hz.
        telephone: also simulate the 8 kHz, 8-bit mu-law channel.

    Example:
        >>> wave = np.random.default_rng(0).uniform(-0.5, 0.5, 16000)
        >>> BandLimit()(wave, 16000, np.random.default_rng(0)).shape
        (16000,)
    """

    name = "band_limit"

    def __init__(
        self, *, low_hz: float = 300.0, high_hz: float = 3400.0, telephone: bool = True
    ) -> None:
        self.low_hz = low_hz
        self.high_hz = high_hz
        self.telephone = telephone

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = _as_mono(wave)
        band = _band_pass(wave, self.low_hz, self.high_hz, sample_rate)
        if not self.telephone:
            return _finish(band)
        if sample_rate <= TELEPHONE_RATE:
            return _finish(mu_law(band))
        narrow = soxr.resample(band, sample_rate, TELEPHONE_RATE, quality="HQ")
        back = soxr.resample(mu_law(narrow), TELEPHONE_RATE, sample_rate, quality="HQ")
        return _finish(_fit_length(back, wave.size))


def mu_law(wave: np.ndarray, *, bits: int = 8) -> np.ndarray:
    """Mu-law compress, quantise to ``bits`` bits (sign + magnitude, as G.711) and expand.

    The input is clipped to [-1, 1]; zero stays zero.

    Example:
        >>> mu_law(np.array([0.0, 0.5, -1.0])).round(3).tolist()
        [0.0, 0.495, -1.0]
    """
    magnitude = np.log1p(MU_LAW * np.clip(np.abs(wave), 0.0, 1.0)) / math.log1p(MU_LAW)
    levels = 2 ** (bits - 1) - 1
    quantised = np.round(magnitude * levels) / levels
    return np.sign(wave) * np.expm1(quantised * math.log1p(MU_LAW)) / MU_LAW


class _CodecFormat(NamedTuple):
    container: str
    subtype: str
    rates: tuple[int, ...] | None  # None: any rate
    level: Callable[[int, int], float]  # (bit/s, sample rate) -> soundfile compression_level
    bitrate_mode: str | None


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
# libsndfile's CBR range in kbit/s per MPEG version, chosen by the sample rate.
MP3_KBPS_RANGES = ((32000, 32, 320), (16000, 8, 160), (0, 8, 64))
# Vorbis has VBR quality only: kbit/s measured per quality on mono babble at 16 kHz (at 44.1 kHz
# about 20 % more; noisier content more again).
VORBIS_KBPS_QUALITY = ((26.0, 0.0), (30.0, 0.3), (36.0, 0.6), (50.0, 1.0))


def _mp3_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile sets kbps = int(high - level * (high - low)); LAME rounds to a legal rate.
    # Level 1.0 is refused by libsndfile, hence the 0.999 cap.
    low, high = next((lo, hi) for rate, lo, hi in MP3_KBPS_RANGES if sample_rate >= rate)
    return float(np.clip((high - bitrate / 1000 - 0.5) / (high - low), 0.0, 0.999))


def _opus_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile sets the Opus target to (1 - level) * 250 kbit/s + 6 kbit/s per channel.
    return float(np.clip(1.0 - (bitrate - 6000) / 250000, 0.0, 1.0))


def _vorbis_level(bitrate: int, sample_rate: int) -> float:
    # libsndfile sets the Vorbis VBR quality to 1 - level.
    kbps, quality = zip(*VORBIS_KBPS_QUALITY, strict=True)
    return 1.0 - float(np.interp(bitrate / 1000, kbps, quality))


CODEC_FORMATS = {
    "mp3": _CodecFormat("MP3", "MPEG_LAYER_III", MP3_RATES, _mp3_level, "CONSTANT"),
    "ogg": _CodecFormat("OGG", "VORBIS", None, _vorbis_level, None),
    "opus": _CodecFormat("OGG", "OPUS", OPUS_RATES, _opus_level, None),
}


class Codec(_Corruption):
    """Encode and decode through a real lossy codec (libsndfile via soundfile, in memory).

    ``bitrate`` (bit/s) reaches the encoder through soundfile's ``compression_level`` (0..1):

    * ``mp3`` (LAME, constant bit rate): level = (high - kbps) / (high - low) with the
      libsndfile CBR range 32-320 kbit/s at >= 32 kHz, 8-160 at 16-24 kHz, 8-64 below; exact
      up to LAME's legal bit rates.
    * ``opus`` (VBR target): level = 1 - (bitrate - 6000) / 250000; exact target.
    * ``ogg`` (Vorbis, VBR quality = 1 - level): approximate, from ``VORBIS_KBPS_QUALITY``
      measured at 16 kHz; the real rate follows the content (at 16 kHz mono, roughly 25-50
      kbit/s for speech-like audio, up to 80 for noisy audio, whatever is asked).

    ``None`` keeps the codec's default. Rates the codec lacks (mp3: ``MP3_RATES``, opus:
    8/12/16/24/48 kHz) are resampled to the next supported rate and back. The decoded signal
    is aligned to the input by cross-correlation (codec delay, up to ``MAX_CODEC_DELAY``
    samples), then cut or zero-padded to the input length.

    Args:
        format: ``"mp3"``, ``"ogg"`` (Vorbis) or ``"opus"``.
        bitrate: target bit rate in bit/s (e.g. ``32000``), or ``None``.

    Example:
        >>> wave = 0.3 * np.sin(np.arange(16000) / 5.0)
        >>> coded = Codec(format="opus", bitrate=24000)(wave, 16000, np.random.default_rng(0))
        >>> coded.shape, bool(np.corrcoef(coded, wave)[0, 1] > 0.9)
        ((16000,), True)
    """

    name = "codec"

    def __init__(self, *, format: str = "mp3", bitrate: int | None = None) -> None:
        self.format = format
        self.bitrate = bitrate

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = _as_mono(wave)
        spec = self._spec()
        if wave.size == 0:
            return _finish(wave)
        rate = _supported_rate(spec.rates, sample_rate)
        original = _resample(wave, sample_rate, rate)
        decoded = _align(self._encode_decode(original, rate, spec), original)
        return _finish(_fit_length(_resample(decoded, rate, sample_rate), wave.size))

    def _spec(self) -> _CodecFormat:
        if self.format not in CODEC_FORMATS:
            raise ValueError(f"unknown codec {self.format!r}; known: {', '.join(CODEC_FORMATS)}")
        if self.bitrate is not None and self.bitrate < 1000:
            raise ValueError(f"bitrate is in bit/s (e.g. 32000), got {self.bitrate}")
        return CODEC_FORMATS[self.format]

    def _encode_decode(self, wave: np.ndarray, rate: int, spec: _CodecFormat) -> np.ndarray:
        level = None if self.bitrate is None else spec.level(self.bitrate, rate)
        buffer = io.BytesIO()
        soundfile.write(
            buffer,
            np.clip(wave, -1.0, 1.0).astype(np.float32),
            rate,
            format=spec.container,
            subtype=spec.subtype,
            compression_level=level,
            bitrate_mode=spec.bitrate_mode if level is not None else None,
        )
        buffer.seek(0)
        decoded, _ = soundfile.read(buffer, dtype="float32", always_2d=True)
        return decoded[:, 0].astype(np.float64)


class Clip(_Corruption):
    """Hard clipping at ``level`` times the signal peak (no make-up gain).

    Example:
        >>> Clip(level=0.5)(np.array([0.0, 0.3, -0.8]), 16000, np.random.default_rng(0)).tolist()
        [0.0, 0.30000001192092896, -0.4000000059604645]
    """

    name = "clip"

    def __init__(self, *, level: Range = 0.3) -> None:
        self.level = level

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = _as_mono(wave)
        level = draw(self.level, rng)
        if not 0 < level <= 1:
            raise ValueError(f"clip level must be in (0, 1], got {level}")
        threshold = level * float(np.max(np.abs(wave), initial=0.0))
        return _finish(np.clip(wave, -threshold, threshold))


class Gain(_Corruption):
    """Scale by ``db`` decibels; a result past full scale is scaled back to peak 1.

    Example:
        >>> Gain(db=-20)(np.array([0.5, -1.0]), 16000, np.random.default_rng(0)).astype(float)
        array([ 0.05, -0.1 ])
    """

    name = "gain"

    def __init__(self, *, db: Range) -> None:
        self.db = db

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        return _finish(_as_mono(wave) * 10 ** (draw(self.db, rng) / 20))


class Chain(_Corruption):
    """Apply ``steps`` in order, all of them with ``probability`` (else return the input).

    One number is drawn from ``rng`` for the decision even when ``probability`` is 1.

    Example:
        >>> chain = Chain(steps=[Gain(db=-6), Clip(level=0.5)], probability=1.0)
        >>> chain(np.array([0.2, -1.0]), 16000, np.random.default_rng(0)).astype(float).round(3)
        array([ 0.1  , -0.251])
    """

    name = "chain"

    def __init__(
        self, *, steps: Sequence[Callable[..., np.ndarray]], probability: float = 1.0
    ) -> None:
        self.steps = steps
        self.probability = probability

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = _as_mono(wave)
        if rng.random() >= self.probability:
            return _finish(wave)
        for step in self.steps:
            wave = step(wave, sample_rate, rng)
        return _finish(wave)

    def describe(self) -> dict[str, Any]:
        steps = [describe(step) for step in self.steps]
        return {"name": self.name, "steps": steps, "probability": self.probability}


def build_corruption(spec: dict[str, Any] | Sequence[dict[str, Any]]) -> Callable[..., np.ndarray]:
    """Build a corruption from a config dict ``{"name": ..., **params}``; a list is a Chain.

    ``steps`` of a ``chain`` dict are built the same way.

    Raises:
        KeyError: unknown name (the message lists the known ones).
        TypeError: parameters the corruption does not take.

    Example:
        >>> build_corruption({"name": "noise", "snr_db": 10})
        AddNoise(snr_db=10, noise='white')
        >>> build_corruption({"name": "echo"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        KeyError: "unknown corruption 'echo'; known: band_limit, chain, clip, codec, gain, ..."
    """
    if not isinstance(spec, dict):
        return Chain(steps=[build_corruption(step) for step in spec])
    params = dict(spec)
    name = params.pop("name", None)
    if not isinstance(name, str) or name not in registry.names("corruption"):
        known = ", ".join(registry.names("corruption"))
        raise KeyError(f"unknown corruption {name!r}; known: {known}")
    if "steps" in params:
        params["steps"] = [build_corruption(step) for step in params["steps"]]
    return registry.build("corruption", name, **params)


def describe(corruption: Callable[..., np.ndarray]) -> dict[str, Any] | str:
    """``corruption.describe()`` when it has one, else the name of the callable.

    Example:
        >>> describe(Gain(db=-3)), describe(np.flip)
        ({'name': 'gain', 'db': -3}, 'flip')
    """
    if hasattr(corruption, "describe"):
        return corruption.describe()
    return getattr(corruption, "__qualname__", type(corruption).__qualname__)


def _as_mono(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono 1-D signal, got shape {wave.shape}")
    return wave


def _finish(wave: np.ndarray) -> np.ndarray:
    wave = np.nan_to_num(np.asarray(wave, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(wave), initial=0.0))
    if peak > 1.0:
        wave = wave / peak
    return wave.astype(np.float32)


def _fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    if wave.size >= length:
        return wave[:length]
    return np.concatenate([wave, np.zeros(length - wave.size, dtype=wave.dtype)])


def _unit_rms(wave: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(wave**2))) if wave.size else 0.0
    return wave / rms if rms > 0 else wave


def _match_rms(wave: np.ndarray, reference: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(wave**2))) if wave.size else 0.0
    target = float(np.sqrt(np.mean(reference**2))) if reference.size else 0.0
    return wave * (target / rms) if rms > 0 else wave


def _noise_gain(wave: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int) -> float:
    mask = active_mask(wave, sample_rate)
    if not mask.any():
        return 0.0
    signal_power = float(np.mean(wave[mask] ** 2))
    noise_power = float(np.mean(noise[mask] ** 2)) or float(np.mean(noise**2))
    if noise_power <= 0:
        return 0.0
    return math.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))


def _colored_noise(length: int, rng: np.random.Generator, *, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    bins = np.arange(spectrum.size, dtype=np.float64)
    spectrum[1:] *= bins[1:] ** (-exponent / 2)
    spectrum[:1] = 0.0  # no DC offset
    return _unit_rms(np.fft.irfft(spectrum, n=length))


def _voice(time: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    wobble = np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * time + rng.uniform(0, 2 * np.pi))
    f0 = rng.uniform(90.0, 250.0) * (1 + 0.08 * wobble)
    source = 2 * ((np.cumsum(f0) / sample_rate + rng.uniform()) % 1.0) - 1
    for low, high in ((300, 900), (900, 2200), (2200, 3200)):
        formant = rng.uniform(low, high)
        if formant < 0.45 * sample_rate:
            source = _resonator(source, formant, 120.0, sample_rate)
    syllables = np.sin(np.pi * rng.uniform(3.0, 5.0) * time + rng.uniform(0, np.pi)) ** 2
    return _unit_rms(source) * syllables * rng.uniform(0.5, 1.0)


def _resonator(wave: np.ndarray, frequency: float, bandwidth: float, rate: int) -> np.ndarray:
    radius = math.exp(-math.pi * bandwidth / rate)
    poles = [1.0, -2 * radius * math.cos(2 * math.pi * frequency / rate), radius**2]
    return sps.lfilter([1 - radius], poles, wave)


def _band_pass(wave: np.ndarray, low_hz: float, high_hz: float, rate: int) -> np.ndarray:
    if not low_hz < high_hz:
        raise ValueError(f"low_hz {low_hz} must be below high_hz {high_hz}")
    has_low, has_high = low_hz > 0, high_hz < rate / 2
    if wave.size < 2 or not (has_low or has_high):
        return wave
    if has_low and has_high:
        kind, edges = "bandpass", [low_hz, high_hz]
    else:
        kind, edges = ("highpass", low_hz) if has_low else ("lowpass", high_hz)
    sos = sps.butter(FILTER_ORDER, edges, btype=kind, fs=rate, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), wave.size - 1)
    return sps.sosfiltfilt(sos, wave, padlen=padlen)


def _supported_rate(rates: tuple[int, ...] | None, sample_rate: int) -> int:
    if rates is None or sample_rate in rates:
        return sample_rate
    return next((rate for rate in rates if rate >= sample_rate), rates[-1])


def _resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    return wave if rate == target else soxr.resample(wave, rate, target, quality="HQ")


def _align(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Drop the codec delay: the lag in ``[0, MAX_CODEC_DELAY]`` of best cross-correlation."""
    max_lag = min(MAX_CODEC_DELAY, decoded.size - 1)
    if max_lag < 1 or not np.any(reference):
        return decoded
    head = decoded[: reference.size + max_lag]
    correlation = sps.correlate(head, reference, mode="full", method="fft")
    zero = reference.size - 1
    return decoded[int(np.argmax(correlation[zero : zero + max_lag + 1])) :]


@lru_cache(maxsize=16)
def _files_cached(source: str) -> tuple[Path, ...]:
    # A noise folder is drawn from for every corrupted file: list it once.
    return tuple(audio_files(source))


@lru_cache(maxsize=16)  # bounded: noise recordings can be minutes long
def _load_cached(path: str, sample_rate: int) -> np.ndarray:
    # Noise and impulse-response files are reused for every corrupted file: read each once.
    wave = load_audio(path, sample_rate=sample_rate, min_duration=0.0)
    wave.setflags(write=False)
    return wave
