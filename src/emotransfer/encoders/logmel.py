"""A log-mel front end in torch (``L + 1 = 1`` hidden state): the input of the literature's
CNNs and transformers trained from scratch.

The same analysis as the frozen :class:`~emotransfer.features.logmel.LogMel` (Hann window,
power spectrum, HTK mel filters, natural log), in float32 on the batch.

Shapes: ``prepare(waves)`` -> ``{"values" (B, S), "frames" (B,)}``; ``forward`` -> states
``(B, 1, T, num_mels)``, mask ``(B, T)``.

Example:
    >>> import numpy as np
    >>> encoder = LogMelEncoder(num_mels=40)
    >>> output = encoder(encoder.prepare([np.full(16000, 0.01, "float32"),
    ...                                   np.full(8000, 0.01, "float32")]))
    >>> tuple(output.states.shape), output.mask.sum(1).tolist()
    ((2, 1, 98, 40), [98, 48])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emotransfer.encoders.base import Encoder, EncoderOutput, whole_or_mask
from emotransfer.features.logmel import LogMel, mel_filters


class LogMelEncoder(Encoder):
    """Log mel-spectrogram frames of the analysis ``LogMel(**analysis)`` describes.

    Args:
        analysis: :class:`~emotransfer.features.logmel.LogMel`'s parameters (``num_mels``,
            ``window_ms``, ``hop_ms``, ``fmin``, ``fmax``, ``sample_rate``).
    """

    def __init__(self, **analysis: Any) -> None:
        super().__init__()
        self.analysis = LogMel(**analysis)
        rate = self.analysis.sample_rate
        self.sample_rate = rate
        self.num_layers = 0
        self.hidden_size = self.analysis.num_mels
        self.window = int(round(rate * self.analysis.window_ms / 1000))
        self.hop = int(round(rate * self.analysis.hop_ms / 1000))
        self.frame_rate = rate / self.hop
        self.n_fft = 1 << (self.window - 1).bit_length()
        top = self.analysis.fmax or rate / 2
        filters = mel_filters(self.hidden_size, self.n_fft, rate, self.analysis.fmin, top)
        self.register_buffer("filters", torch.from_numpy(filters.T.astype(np.float32)), False)
        hann = np.hanning(self.window).astype(np.float32)
        self.register_buffer("hann", torch.from_numpy(hann), persistent=False)

    def prepare(self, items: list[np.ndarray]) -> dict[str, torch.Tensor]:
        longest = max(self.window, *(len(w) for w in items))
        values = torch.zeros(len(items), longest)
        for row, wave in enumerate(items):
            values[row, : len(wave)] = torch.from_numpy(np.asarray(wave, dtype=np.float32))
        lengths = np.maximum([len(w) for w in items], self.window)
        frames = 1 + (lengths - self.window) // self.hop
        return {"values": values, "frames": torch.as_tensor(frames)}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        windows = batch["values"].unfold(1, self.window, self.hop)
        frames = batch.get("frames")
        if frames is not None:
            windows = windows[:, : int(frames.max())]
        spectrum = torch.fft.rfft(windows * self.hann, n=self.n_fft).abs() ** 2
        mel = torch.log(spectrum @ self.filters + 1e-10)
        return EncoderOutput(mel[:, None], whole_or_mask(frames, mel))
