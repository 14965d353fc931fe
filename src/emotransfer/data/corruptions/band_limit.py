"""Band limits and the telephone channel (8 kHz, 8-bit mu-law)."""

from __future__ import annotations

import math

import numpy as np
import soxr
from scipy import signal as sps

from emotransfer.data.corruptions.base import Corruption, as_mono, finish, fit_length

FILTER_ORDER = 6  # Butterworth order of BandLimit (doubled in dB by the zero-phase filtfilt)
TELEPHONE_RATE = 8000
MU_LAW = 255  # G.711 mu-law, 8-bit codes


class BandLimit(Corruption):
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
        wave = as_mono(wave)
        band = band_pass(wave, self.low_hz, self.high_hz, sample_rate)
        if not self.telephone:
            return finish(band)
        if sample_rate <= TELEPHONE_RATE:
            return finish(mu_law(band))
        narrow = soxr.resample(band, sample_rate, TELEPHONE_RATE, quality="HQ")
        back = soxr.resample(mu_law(narrow), TELEPHONE_RATE, sample_rate, quality="HQ")
        return finish(fit_length(back, wave.size))


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


def band_pass(wave: np.ndarray, low_hz: float, high_hz: float, rate: int) -> np.ndarray:
    """Zero-phase Butterworth band-pass; an edge at 0 Hz or past Nyquist is left out.

    Raises:
        ValueError: ``low_hz`` is not below ``high_hz``.
    """
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
