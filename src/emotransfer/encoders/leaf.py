"""LEAF, a learnable audio front end (Zeghidour et al., "LEAF: a learnable frontend for audio
classification", ICLR 2021), as a trainable encoder (``L + 1 = 1`` hidden state).

Three learnable stages replace the log-mel's fixed ones:

1. Gabor filtering. Filter ``n`` has the complex impulse response
   ``phi_n(t) = exp(i eta_n t) exp(-t^2 / (2 sigma_n^2)) / (sqrt(2 pi) sigma_n)``, a centre
   frequency ``eta_n`` (radians per sample) and a width ``sigma_n`` (samples), and its output
   energy is the squared modulus ``|x * phi_n|^2``. Both are initialised from the mel
   filterbank of the same resolution, as the paper's reference code does: ``eta_n`` at the
   peak of the square root of mel filter ``n``, ``sigma_n = sqrt(2 ln 2) n_fft / (pi fwhm_n)``
   from its full width at half maximum (in FFT bins), so the Gabor filter's half-maximum
   band is the mel filter's; during training ``eta`` is kept in ``[0, pi]`` and ``sigma`` in
   ``[4 sqrt(2 ln 2) / pi, window sqrt(2 ln 2) / pi]``. The filters are applied in the
   frequency domain, where ``phi_n`` is the Gaussian ``exp(-sigma_n^2 (w - eta_n)^2 / 2)``
   (one FFT of the clip, one inverse FFT per filter, instead of a 401-tap convolution per
   filter at the audio rate), untruncated; the paper convolves with ``phi_n`` cut to the
   window. For 40 mel-initialised bands the energies differ by under 0.5 % except in the
   lowest band (the widest impulse response, which the window cuts: 7 %) (tested).
2. Gaussian low-pass pooling: per filter a window of ``window`` taps,
   ``exp(-((t - (W - 1) / 2) / (s_n (W - 1) / 2))^2 / 2)`` with a learnable width ``s_n``
   (initial 0.4, kept in ``[2 / W, 0.5]``), applied with a stride of one hop.
3. Compression: sPCEN, per-channel energy normalisation with a learnable smoothing
   coefficient per channel, ``M_t = (1 - s) M_{t-1} + s E_t`` (``M_0 = E_0``) and
   ``(E_t / (floor + M_t)^alpha + delta)^(1 / r) - delta^(1 / r)`` (initial ``alpha`` 0.96,
   ``delta`` 2, ``r`` 2, ``s`` 0.04; ``alpha <= 1``, ``r >= 1``, ``s`` in ``[0, 1]``), or
   ``compression: log`` (``log(E + floor)``, the log-mel's compression).

A mel-initialised LEAF with ``compression: log`` starts close to the log-mel of the same
resolution (tested: per band, correlation over frames). SpeechBrain's ``Leaf`` lobe was not
used: SpeechBrain needs torchaudio, which this project does not install.

Shapes: ``prepare(waves)`` -> ``{"values" (B, S), "frames" (B,), "samples" (B,)}``;
``forward`` -> states ``(B, 1, T, num_filters)`` with ``T = ceil(S / hop)``, mask ``(B, T)``.
Every parameter is the front end's (``front_end_parameters``): a partial fine-tuning strategy
keeps it as initialised, ``full`` trains it.

Example:
    >>> import numpy as np
    >>> leaf = Leaf(num_filters=40)
    >>> output = leaf(leaf.prepare([np.full(16000, 0.01, "float32"), np.ones(800, "float32")]))
    >>> tuple(output.states.shape), output.mask.sum(1).tolist()
    ((2, 1, 100, 40), [100, 5])
"""

from __future__ import annotations

import math

import numpy as np
import torch

from emotransfer.encoders.base import Encoder, EncoderOutput, frame_mask
from emotransfer.features.logmel import mel_filters

HALF = math.sqrt(2 * math.log(2))  # half-maximum of a Gaussian, in standard deviations


def gabor_from_mels(
    num_filters: int, n_fft: int, sample_rate: int, fmin: float, fmax: float
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Centres (radians per sample) and widths (samples) of Gabor filters whose half-maximum
    bands are those of the mel filterbank ``num_filters x (n_fft / 2 + 1)``."""
    roots = np.sqrt(mel_filters(num_filters, n_fft, sample_rate, fmin, fmax))
    centres = roots.argmax(axis=1) * 2 * np.pi / n_fft
    fwhm = (roots >= roots.max(axis=1, keepdims=True) / 2).sum(axis=1)
    return centres, HALF * n_fft / (np.pi * np.maximum(fwhm, 1))


class Leaf(Encoder):
    """Learnable Gabor filterbank, Gaussian low-pass pooling and sPCEN (see the module).

    Args:
        num_filters: bands (``hidden_size``).
        window_ms, hop_ms: the Gabor and low-pass window and the hop, in milliseconds.
        fmin, fmax: the mel range the filters start from, in Hz (``None``: Nyquist).
        sample_rate: the audio rate in Hz.
        compression: ``pcen`` (sPCEN, learnable) or ``log``.
        floor: added to the energy before compression.
    """

    def __init__(
        self, *, num_filters: int = 64, window_ms: float = 25.0, hop_ms: float = 10.0,
        fmin: float = 60.0, fmax: float | None = 7800.0, sample_rate: int = 16000,
        compression: str = "pcen", floor: float = 1e-12,
    ) -> None:  # fmt: skip
        super().__init__()
        if compression not in ("pcen", "log"):
            raise ValueError(f"compression {compression!r}: pcen or log")
        self.sample_rate, self.compression, self.floor = sample_rate, compression, floor
        self.num_layers, self.hidden_size = 0, num_filters
        self.window = int(round(sample_rate * window_ms / 1000)) | 1  # odd: centred taps
        self.hop = int(round(sample_rate * hop_ms / 1000))
        if self.hop < 1:
            raise ValueError(f"hop_ms {hop_ms}: under one sample at {sample_rate} Hz")
        self.frame_rate = sample_rate / self.hop
        n_fft = 1 << (self.window - 1).bit_length()
        top = fmax if fmax is not None else sample_rate / 2
        if not 0 <= fmin < top <= sample_rate / 2:
            raise ValueError(f"fmin {fmin} / fmax {fmax}: need 0 <= fmin < fmax <= "
                             f"{sample_rate / 2} (Nyquist)")  # fmt: skip
        centres, widths = gabor_from_mels(num_filters, n_fft, sample_rate, fmin, top)
        self.centres = torch.nn.Parameter(torch.tensor(centres, dtype=torch.float32))
        self.widths = torch.nn.Parameter(torch.tensor(widths, dtype=torch.float32))
        self.pooling_widths = torch.nn.Parameter(torch.full((num_filters,), 0.4))
        self.alpha = torch.nn.Parameter(torch.full((num_filters,), 0.96))
        self.delta = torch.nn.Parameter(torch.full((num_filters,), 2.0))
        self.root = torch.nn.Parameter(torch.full((num_filters,), 2.0))
        self.smoothing = torch.nn.Parameter(torch.full((num_filters,), 0.04))
        if compression == "log":  # no sPCEN: its parameters would get no gradient
            for name in ("alpha", "delta", "root", "smoothing"):
                getattr(self, name).requires_grad_(False)

    def prepare(self, items: list[np.ndarray]) -> dict[str, torch.Tensor]:
        longest = max(1, *(len(w) for w in items))
        values = torch.zeros(len(items), longest)
        for row, wave in enumerate(items):
            values[row, : len(wave)] = torch.from_numpy(np.asarray(wave, dtype=np.float32))
        frames = [max(1, -(-len(w) // self.hop)) for w in items]
        lengths = [len(w) for w in items]
        return {"values": values, "frames": torch.as_tensor(frames),
                "samples": torch.as_tensor(lengths)}  # fmt: skip

    def gabor_energy(self, values: torch.Tensor) -> torch.Tensor:
        """``|x * phi_n|^2`` ``(B, N, S)`` of waveforms ``(B, S)`` (see the module)."""
        samples = values.shape[1]
        # zeros beyond the clip for the untruncated responses' tails (4 widths at most)
        size = _fast_size(samples + 3 * self.window)
        spectrum = torch.fft.fft(values, n=size)  # (B, F)
        omega = torch.fft.fftfreq(size, device=values.device) * 2 * math.pi  # (-pi, pi]
        centres = self.centres.clamp(0.0, math.pi)
        widths = self.widths.clamp(4 * HALF / math.pi, self.window * HALF / math.pi)
        response = torch.exp(-0.5 * (widths[:, None] * (omega[None] - centres[:, None])) ** 2)
        filtered = torch.fft.ifft(spectrum[:, None] * response[None], dim=-1)[..., :samples]
        return filtered.real**2 + filtered.imag**2

    def lowpass(self, energy: torch.Tensor) -> torch.Tensor:
        """Gaussian low-pass pooling with a stride of one hop: ``(B, N, S)`` -> ``(B, N, T)``."""
        widths = self.pooling_widths.clamp(2.0 / self.window, 0.5)
        half = (self.window - 1) / 2
        taps = torch.arange(self.window, device=energy.device, dtype=energy.dtype) - half
        kernel = torch.exp(-0.5 * (taps[None] / (widths[:, None] * half)) ** 2)  # (N, W)
        padded = torch.nn.functional.pad(energy, (self.window // 2, self.window // 2))
        return torch.nn.functional.conv1d(padded, kernel[:, None], stride=self.hop,
                                          groups=energy.shape[1])  # fmt: skip

    def pcen(self, energy: torch.Tensor) -> torch.Tensor:
        """sPCEN over frames ``(B, N, T)`` (causal: a frame never depends on later ones)."""
        smoothing = self.smoothing.clamp(0.0, 1.0)  # (N,)
        state, smoothed = energy[..., 0], []
        for frame in energy.unbind(-1):  # (B, N) each
            state = (1 - smoothing) * state + smoothing * frame
            smoothed.append(state)
        average = torch.stack(smoothed, dim=-1)
        alpha = self.alpha.clamp(max=1.0)[:, None]
        inverse = 1 / self.root.clamp(min=1.0)[:, None]
        delta = self.delta[:, None]
        return (energy / (self.floor + average) ** alpha + delta) ** inverse - delta**inverse

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        frames = batch["frames"]
        longest = int(frames.max())
        values = batch["values"]
        energy = self.gabor_energy(values)
        # a clip's energy ends with it (as alone), not in the batch's padding
        inside = torch.arange(values.shape[1], device=values.device) < batch["samples"][:, None]
        energy = self.lowpass(energy * inside[:, None])[..., :longest]
        if self.compression == "pcen":
            compressed = self.pcen(energy)
        else:
            compressed = torch.log(energy + self.floor)
        return EncoderOutput(compressed.transpose(1, 2)[:, None], frame_mask(frames, longest))

    def export_inputs(self, item: np.ndarray) -> dict[str, torch.Tensor]:
        raise ValueError("a LEAF front end cannot be exported: its sPCEN smooths frame by frame "
                         "in a Python loop, so the graph would fix the clip length")  # fmt: skip

    def front_end_parameters(self) -> list[torch.nn.Parameter]:
        """Every LEAF parameter: the whole encoder is a front end (no layers)."""
        return list(self.parameters())


def _fast_size(length: int) -> int:
    """The smallest ``2^a 3^b 5^c`` at least ``length`` (a fast FFT size)."""
    best = 1 << (length - 1).bit_length()
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            size = threes
            while size < length:
                size *= 2
            best = min(best, size)
            threes *= 3
        fives *= 5
    return best
