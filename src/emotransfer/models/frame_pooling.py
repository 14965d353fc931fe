"""Pooling over frames as registered components (torch, masks respected).

A pooling is built with the width of its frames (``input_size``, ``D``), states
``output_size`` (``P``) and maps stacked frames ``(B, S, T, D)`` with a mask ``(B, T)``
(``True`` for real frames; the same for every stack ``S``, e.g. every hidden state) to
``(B, S, P)``. ``statistics`` says whether it is a fixed statistic of the frames (no
parameters): then pooling every hidden state first and mixing the pooled statistics is what
the model does, so a frozen encoder's pooled states can be cached.

Example:
    >>> frames = torch.tensor([[[[1.0], [3.0], [100.0]]]])   # (1, 1, 3, 1), last frame padded
    >>> mask = torch.tensor([[True, True, False]])
    >>> MeanPooling(input_size=1)(frames, mask), MeanStdPooling(input_size=1)(frames, mask)
    (tensor([[[2.]]]), tensor([[[2., 1.]]]))
"""

from __future__ import annotations

from typing import Literal

import torch


class FramePooling(torch.nn.Module):
    """Base class: ``(B, S, T, D)`` frames and ``(B, T)`` mask -> ``(B, S, output_size)``."""

    statistics = False

    def __init__(self, *, input_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.output_size = input_size

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def masked_mean(frames: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over real frames ``(B, S, D)`` and the frame weights ``(B, 1, T, 1)``."""
    weights = mask.to(frames.dtype)[:, None, :, None]
    count = weights.sum(2).clamp(min=1.0)
    return (frames * weights).sum(2) / count, weights


def sequence_mean(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`masked_mean` of one sequence per row: ``(B, T, D)`` frames -> ``(B, D)``."""
    return masked_mean(frames[:, None], mask)[0][:, 0]


class MeanPooling(FramePooling):
    """The mean of the real frames."""

    statistics = True

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_mean(frames, mask)[0]


class MeanStdPooling(FramePooling):
    """Mean and standard deviation of the real frames, concatenated (``P = 2 D``)."""

    statistics = True

    def __init__(self, *, input_size: int) -> None:
        super().__init__(input_size=input_size)
        self.output_size = 2 * input_size

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mean, weights = masked_mean(frames, mask)
        count = weights.sum(2).clamp(min=1.0)
        spread = ((frames - mean[:, :, None]) ** 2 * weights).sum(2) / count
        return torch.cat([mean, spread.clamp(min=1e-10).sqrt()], dim=-1)


class StatisticsPooling(FramePooling):
    """The statistical pooling unit of Peng et al. (ICASSP 2021): mean, standard deviation,
    maximum and minimum of the real frames, concatenated (``P = 4 D``).

    Example:
        >>> frames = torch.tensor([[[[1.0], [3.0], [100.0]]]])   # last frame padded
        >>> StatisticsPooling(input_size=1)(frames, torch.tensor([[True, True, False]]))
        tensor([[[2., 1., 3., 1.]]])
    """

    statistics = True

    def __init__(self, *, input_size: int) -> None:
        super().__init__(input_size=input_size)
        self.output_size = 4 * input_size

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        moments = MeanStdPooling(input_size=self.input_size)(frames, mask)
        real = mask[:, None, :, None]
        highest = frames.masked_fill(~real, float("-inf")).amax(dim=2)
        lowest = frames.masked_fill(~real, float("inf")).amin(dim=2)
        return torch.cat([moments, highest, lowest], dim=-1)


class AttentiveStatsPooling(FramePooling):
    """Attentive statistics pooling (Okabe et al., Interspeech 2018): a small network scores
    each frame, the softmax of the scores over the real frames weights a mean and a standard
    deviation (``P = 2 D``).

    Args:
        input_size: ``D``.
        hidden: width of the scoring network.
        start: ``"random"`` (the scorer's default initialisation) or ``"uniform"`` (its last
            layer zero: every frame weighs the same, so the pooling starts as the plain mean
            and standard deviation; e.g. under a head fitted as a probe on those statistics).
    """

    def __init__(self, *, input_size: int, hidden: int = 128,
                 start: Literal["random", "uniform"] = "random") -> None:  # fmt: skip
        super().__init__(input_size=input_size)
        if start not in ("random", "uniform"):
            raise ValueError(f"attentive pooling: start must be 'random' or 'uniform', not "
                             f"{start!r}")  # fmt: skip
        self.output_size = 2 * input_size
        self.score = torch.nn.Sequential(
            torch.nn.Linear(input_size, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
        )
        if start == "uniform":
            torch.nn.init.zeros_(self.score[-1].weight)
            torch.nn.init.zeros_(self.score[-1].bias)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(frames).squeeze(-1)  # (B, S, T)
        scores = scores.masked_fill(~mask.bool()[:, None, :], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1).unsqueeze(-1)  # (B, S, T, 1)
        mean = (frames * weights).sum(2)
        variance = ((frames - mean[:, :, None]) ** 2 * weights).sum(2)
        return torch.cat([mean, variance.clamp(min=1e-10).sqrt()], dim=-1)
