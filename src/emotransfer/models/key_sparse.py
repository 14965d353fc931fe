"""Key-sparse transformer over frames (Chen et al., "Key-sparse transformer for multimodal
speech emotion recognition", ICASSP 2022), as a registered frame-level body.

Ordinary self-attention spreads every query's weight over all frames, most of which carry no
emotion (silence, neutral syllables). Key-sparse attention keeps, for each query and head,
only the ``top_k`` keys with the highest scores and gives every other key zero weight, so the
model attends to the few emotion-bearing frames. Each layer is a pre-norm transformer layer
(attention, then a feed-forward block, each added to its input) whose attention is key-sparse;
the input is projected to ``width`` (optionally with sinusoidal positions). ``top_k: null`` is
dense attention (a plain transformer, the paper's baseline). The cross-modal variant (queries of one
modality, keys of another) is issue 15's fusion.

Padded frames are never keys (their scores are ``-inf`` before the top-k choice) and come out
as zeros, so a clip's frames are the same alone or padded in a batch. ``stride`` averages the
projected frames over windows of that many frames first (the attention is ``T x T``: log-mel's
100 frames a second cost 16 times the attention of ``stride: 4``'s 25).

Example:
    >>> body = KeySparseTransformer(input_size=8, width=16, heads=2, layers=1, top_k=3)
    >>> frames, mask = body.eval()(torch.randn(2, 10, 8), torch.ones(2, 10, dtype=torch.bool))
    >>> tuple(frames.shape), body.output_size
    ((2, 10, 16), 16)
"""

from __future__ import annotations

import math

import torch

from emotransfer.models.bodies import Body


def key_sparse_weights(
    scores: torch.Tensor, key_mask: torch.Tensor, top_k: int | None
) -> torch.Tensor:  # fmt: skip
    """Attention weights from ``scores`` ``(..., Tq, Tk)``: padded keys (``key_mask``
    ``(..., Tk)`` False) get none; with ``top_k``, each query keeps only its ``top_k`` best
    keys (ties with the k-th score are kept too). Rows sum to 1."""
    scores = scores.masked_fill(~key_mask[..., None, :], float("-inf"))
    if top_k is not None and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    return torch.softmax(scores, dim=-1)


class KeySparseAttention(torch.nn.Module):
    """Multi-head self-attention whose queries each keep ``top_k`` keys."""

    def __init__(self, width: int, heads: int, top_k: int | None, dropout: float) -> None:
        super().__init__()
        self.heads, self.top_k = heads, top_k
        self.project = torch.nn.Linear(width, 3 * width)
        self.out = torch.nn.Linear(width, width)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        query, key, value = (
            part.reshape(batch, length, self.heads, width // self.heads).transpose(1, 2)
            for part in self.project(x).chunk(3, dim=-1)
        )  # (B, H, T, W / H) each
        scores = query @ key.transpose(-1, -2) / math.sqrt(width // self.heads)
        weights = self.dropout(key_sparse_weights(scores, mask[:, None, :], self.top_k))
        mixed = (weights @ value).transpose(1, 2).reshape(batch, length, width)
        return self.out(mixed)


def positions(length: int, width: int, device: torch.device) -> torch.Tensor:
    """Sinusoidal position codes ``(length, width)`` (Vaswani et al. 2017)."""
    place = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, device=device).float() * (-math.log(1e4) / width))
    codes = torch.zeros(length, width, device=device)
    codes[:, 0::2] = torch.sin(place * rate)
    codes[:, 1::2] = torch.cos(place * rate[: width // 2])
    return codes


class KeySparseTransformer(Body):
    """Input projection + positions, then ``layers`` pre-norm key-sparse transformer layers.

    Args:
        input_size: ``D``, the width of the input frames.
        width: the model width (``D'``), divisible by ``heads``.
        heads: attention heads.
        layers: transformer layers.
        top_k: keys kept per query and head (``None``: dense attention).
        feedforward: the feed-forward width, in multiples of ``width``.
        dropout: on attention weights and sublayer outputs (training only).
        max_frames: a clip longer than this is refused (the attention is ``T x T``).
        positions: add sinusoidal position codes to the projected frames. Off by default:
            emotion is a property of the clip, not of a place in it, and on small training
            sets the codes let a top-k model memorise where events fall (tested: a short
            event learnt to 1.0 on training clips, chance on new ones; 0.96 without codes).
        stride: average the projected frames over non-overlapping windows of ``stride``
            frames (their real frames; a window with none is padding) before the layers:
            ``T' = ceil(T / stride)``.
    """

    def __init__(
        self, *, input_size: int, width: int = 64, heads: int = 4, layers: int = 2,
        top_k: int | None = 16, feedforward: int = 2, dropout: float = 0.1,
        max_frames: int = 3000, positions: bool = False, stride: int = 1,
    ) -> None:  # fmt: skip
        super().__init__(input_size=input_size)
        if width < 1 or heads < 1 or width % heads or width % 2:
            raise ValueError(f"width {width} must be even and divisible by heads {heads}")
        if layers < 1 or feedforward < 1:
            raise ValueError(f"layers {layers} and feedforward {feedforward} must be >= 1")
        if stride < 1:
            raise ValueError(f"stride {stride}: frames averaged per window, >= 1")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k {top_k}: keys kept per query, >= 1 (null: dense)")
        self.width, self.heads, self.top_k, self.max_frames = width, heads, top_k, max_frames
        self.positions, self.stride = positions, stride
        self.output_size = width
        self.inputs = torch.nn.Linear(input_size, width)
        self.attention = torch.nn.ModuleList(
            KeySparseAttention(width, heads, top_k, dropout) for _ in range(layers)
        )
        self.feedforwards = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.Linear(width, feedforward * width),
                torch.nn.GELU(),
                torch.nn.Linear(feedforward * width, width),
            )  # fmt: skip
            for _ in range(layers)
        )
        self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(width) for _ in range(2 * layers))
        self.dropout = torch.nn.Dropout(dropout)

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        length = frames.shape[1]
        if length > self.max_frames:
            raise ValueError(f"{length} frames: the key-sparse transformer takes at most "
                             f"max_frames={self.max_frames} (its attention is T x T); crop the "
                             "clips (finetune.max_seconds) or raise max_frames")  # fmt: skip
        hidden = self.inputs(frames)
        if self.stride > 1:
            hidden, mask = _window_means(hidden, mask, self.stride)
            length = hidden.shape[1]
        keep = mask[..., None].to(frames.dtype)
        if self.positions:
            hidden = hidden + positions(length, self.width, frames.device)
        hidden = hidden * keep
        for number, (attention, feedforward) in enumerate(zip(self.attention, self.feedforwards)):
            first, second = self.norms[2 * number], self.norms[2 * number + 1]
            hidden = hidden + self.dropout(attention(first(hidden), mask)) * keep
            hidden = hidden + self.dropout(feedforward(second(hidden))) * keep
        return hidden, mask


def _window_means(
    frames: torch.Tensor, mask: torch.Tensor, stride: int
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Means of the real frames of ``frames`` ``(B, T, D)`` over windows of ``stride`` frames:
    ``(B, ceil(T / stride), D)`` and the mask of windows holding a real frame."""
    extra = -frames.shape[1] % stride
    keep = torch.nn.functional.pad(mask, (0, extra)).to(frames.dtype)
    frames = torch.nn.functional.pad(frames, (0, 0, 0, extra)) * keep[..., None]
    batch, length, width = frames.shape
    sums = frames.reshape(batch, length // stride, stride, width).sum(dim=2)
    counts = keep.reshape(batch, length // stride, stride).sum(dim=2)
    return sums / counts.clamp(min=1)[..., None], counts > 0
