"""Additive noise at an exact SNR: white, pink, brown, synthetic babble, or recorded noise.

The SNR is set on the active part of the signal (:func:`active_mask`), so pauses do not lower
the speech level.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import signal as sps

from emotransfer.data.corruptions.base import Corruption, Range, as_mono, draw, finish, unit_rms
from emotransfer.data.corruptions.sources import random_recording

ACTIVE_FRAME_S = 0.02  # frame length of the activity detector used for SNR
ACTIVE_FLOOR_DB = 40.0  # frames quieter than the loudest frame by more are inactive
BABBLE_VOICES = 6


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


class AddNoise(Corruption):
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
        wave = as_mono(wave)
        snr_db = draw(self.snr_db, rng)
        noise = self._noise(wave.size, sample_rate, rng)
        return finish(wave + noise_gain(wave, noise, snr_db, sample_rate) * noise)

    def _noise(self, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        generator = NOISES.get(self.noise)
        if generator is not None:
            return generator(length, sample_rate, rng)
        source = random_recording(self.noise, sample_rate, rng)
        start = int(rng.integers(source.size))
        return np.take(source, np.arange(start, start + length), mode="wrap").astype(np.float64)


def noise_gain(wave: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int) -> float:
    """The factor on ``noise`` that puts it ``snr_db`` below ``wave`` on the active samples."""
    mask = active_mask(wave, sample_rate)
    if not mask.any():
        return 0.0
    signal_power = float(np.mean(wave[mask] ** 2))
    noise_power = float(np.mean(noise[mask] ** 2)) or float(np.mean(noise**2))
    if noise_power <= 0:
        return 0.0
    return math.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))


def white_noise(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise with unit RMS."""
    return unit_rms(rng.standard_normal(length))


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
    return unit_rms(np.sum(voices, axis=0))


NOISES: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "white": white_noise,
    "pink": pink_noise,
    "brown": brown_noise,
    "babble": babble_noise,
}


def _colored_noise(length: int, rng: np.random.Generator, *, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    bins = np.arange(spectrum.size, dtype=np.float64)
    spectrum[1:] *= bins[1:] ** (-exponent / 2)
    spectrum[:1] = 0.0  # no DC offset
    return unit_rms(np.fft.irfft(spectrum, n=length))


def _voice(time: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    wobble = np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * time + rng.uniform(0, 2 * np.pi))
    f0 = rng.uniform(90.0, 250.0) * (1 + 0.08 * wobble)
    source = 2 * ((np.cumsum(f0) / sample_rate + rng.uniform()) % 1.0) - 1
    for low, high in ((300, 900), (900, 2200), (2200, 3200)):
        formant = rng.uniform(low, high)
        if formant < 0.45 * sample_rate:
            source = _resonator(source, formant, 120.0, sample_rate)
    syllables = np.sin(np.pi * rng.uniform(3.0, 5.0) * time + rng.uniform(0, np.pi)) ** 2
    return unit_rms(source) * syllables * rng.uniform(0.5, 1.0)


def _resonator(wave: np.ndarray, frequency: float, bandwidth: float, rate: int) -> np.ndarray:
    radius = math.exp(-math.pi * bandwidth / rate)
    poles = [1.0, -2 * radius * math.cos(2 * math.pi * frequency / rate), radius**2]
    return sps.lfilter([1 - radius], poles, wave)
