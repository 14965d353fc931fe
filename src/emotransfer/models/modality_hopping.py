"""Attentive modality hopping (Yoon et al., "Attentive modality hopping mechanism for speech
emotion recognition", ICASSP 2020) as a frame-level fusion.

Every modality's frames are projected to one width ``size`` and summarised by their masked
mean. Then, for ``hops`` rounds, each modality in turn (name order) replaces its summary by an
attention over its own frames whose query is made from the other modalities' current
summaries: the audio summary is re-read in the light of the words, then the words in the light
of that audio summary, and so on, so each hop can pick up what the previous one selected. The
output is the final summaries, concatenated (``size x modalities``). With one modality the
query is its own summary (attentive pooling refined ``hops`` times).

Example:
    >>> fusion = ModalityHopping(sizes={"audio": 4, "text": 6}, size=8, hops=2)
    >>> frames = {"audio": (torch.randn(2, 9, 4), torch.ones(2, 9, dtype=torch.bool)),
    ...           "text": (torch.randn(2, 3, 6), torch.ones(2, 3, dtype=torch.bool))}
    >>> fusion(frames).shape, fusion.output_size
    (torch.Size([2, 16]), 16)
"""

from __future__ import annotations

import math

import torch

from emotransfer.models.frame_pooling import sequence_mean
from emotransfer.models.fusion import Fusion


class ModalityHopping(Fusion):
    """Summaries refined by attention led by the other modalities, ``hops`` times.

    Args:
        sizes: modality -> frame width ``D_m``.
        size: the common width of projected frames and summaries.
        hops: rounds over all modalities (0: the projected means).
    """

    takes = "frames"

    def __init__(self, *, sizes: dict[str, int], size: int = 64, hops: int = 2) -> None:
        super().__init__(sizes=sizes)
        if size < 1 or hops < 0:
            raise ValueError(f"size {size} must be >= 1 and hops {hops} >= 0")
        self.size, self.hops = size, hops
        self.output_size = size * len(self.sizes)
        self.projections = torch.nn.ModuleDict({
            name: torch.nn.Linear(width, size) for name, width in self.sizes.items()
        })  # fmt: skip
        context = size * max(len(self.sizes) - 1, 1)
        self.queries = torch.nn.ModuleDict({
            name: torch.nn.Linear(context, size) for name in self.sizes
        })  # fmt: skip

    def forward(  # type: ignore[override]
        self, frames: dict[str, tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        projected = {name: self.projections[name](frames[name][0]) for name in self.sizes}
        masks = {name: frames[name][1] for name in self.sizes}
        summaries = {name: sequence_mean(projected[name], masks[name]) for name in self.sizes}
        for _ in range(self.hops):
            for name in self.sizes:
                others = [summaries[o] for o in self.sizes if o != name] or [summaries[name]]
                query = self.queries[name](torch.cat(others, dim=-1))  # (B, size)
                scores = (projected[name] @ query[..., None])[..., 0] / math.sqrt(self.size)
                weights = torch.softmax(scores.masked_fill(~masks[name], float("-inf")), -1)
                summaries[name] = (weights[..., None] * projected[name]).sum(1)
        return torch.cat([summaries[name] for name in self.sizes], dim=-1)
