"""Room reverberation: a simulated or recorded impulse response."""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

from emotransfer.data.corruptions.base import Corruption, Range, as_mono, draw, finish, match_rms
from emotransfer.data.corruptions.sources import random_recording


class Reverb(Corruption):
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
        wave = as_mono(wave)
        response = self._response(sample_rate, rng)
        wet = sps.fftconvolve(wave, response)[: wave.size] if wave.size else wave
        return finish(match_rms(wet, wave))

    def _response(self, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        if self.impulse_response is None:
            rt60 = draw(self.rt60, rng)
            return simulated_rir(rt60, sample_rate, rng, direct_ratio_db=self.direct_ratio_db)
        response = random_recording(self.impulse_response, sample_rate, rng)
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
