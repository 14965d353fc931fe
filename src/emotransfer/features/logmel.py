"""Log-mel filterbank energies computed with numpy (no torchaudio).

Example:
    >>> LogMel(num_mels=40).extract(np.zeros(16000, dtype="float32") + 0.01).shape
    (1, 98, 40)
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np


class LogMel:
    """Log mel-spectrogram: Hann window, power spectrum, HTK mel filters, natural log.

    Args:
        num_mels: number of mel bands.
        window_ms, hop_ms: analysis window and hop in milliseconds.
        fmin, fmax: filterbank range in Hz (``fmax=None`` = Nyquist).
        sample_rate: input rate in Hz.
    """

    def __init__(
        self,
        *,
        num_mels: int = 64,
        window_ms: float = 25.0,
        hop_ms: float = 10.0,
        fmin: float = 20.0,
        fmax: float | None = None,
        sample_rate: int = 16000,
    ) -> None:
        self.num_mels = num_mels
        self.window_ms = window_ms
        self.hop_ms = hop_ms
        self.fmin = fmin
        self.fmax = fmax
        self.sample_rate = sample_rate

    def extract(self, wave: np.ndarray) -> np.ndarray:
        window = int(round(self.sample_rate * self.window_ms / 1000))
        hop = int(round(self.sample_rate * self.hop_ms / 1000))
        if len(wave) < window:
            wave = np.pad(wave, (0, window - len(wave)))
        frames = np.lib.stride_tricks.sliding_window_view(wave, window)[::hop]
        n_fft = 1 << (window - 1).bit_length()
        spectrum = np.abs(np.fft.rfft(frames * np.hanning(window), n=n_fft)) ** 2
        fmax = self.fmax or self.sample_rate / 2
        filters = mel_filters(self.num_mels, n_fft, self.sample_rate, self.fmin, fmax)
        mel = np.log(spectrum @ filters.T + 1e-10).astype(np.float32)
        return mel[None]

    def identity(self) -> dict[str, Any]:
        return {
            "upstream": "logmel",
            "num_mels": self.num_mels,
            "window_ms": self.window_ms,
            "hop_ms": self.hop_ms,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "sample_rate": self.sample_rate,
        }


@cache
def mel_filters(num_mels: int, n_fft: int, rate: int, fmin: float, fmax: float) -> np.ndarray:
    def to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (mel / 2595.0) - 1.0)

    edges = to_hz(np.linspace(to_mel(np.array(fmin)), to_mel(np.array(fmax)), num_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (center - lower)
    falling = (upper - bins) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling))
