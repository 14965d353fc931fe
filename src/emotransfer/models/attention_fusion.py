"""The attention block of Peng et al. ("Efficient speech emotion recognition using multi-scale
CNN and attention", ICASSP 2021) as a frame-level fusion: one representation attends to
another.

For each modality ``m`` the summary of the others (their masked mean frames, concatenated; a
single modality uses its own) is projected to a query, ``m``'s frames to keys, and the
query's softmax weights over ``m``'s real frames give an attended vector: the frames that the
other modality points to (the paper's text selecting the audio frames, or the audio selecting
words). The output concatenates, per modality (in name order), its mean frame and its attended
frame, so the model keeps the global statistics beside the selected ones.

``takes = "frames"``: the model gives it every modality's body output with its mask (see
:mod:`emotransfer.models.fusion`).

Example:
    >>> fusion = CrossAttentionFusion(sizes={"audio": 4, "text": 6}, attention_size=8)
    >>> frames = {"audio": (torch.randn(2, 9, 4), torch.ones(2, 9, dtype=torch.bool)),
    ...           "text": (torch.randn(2, 3, 6), torch.ones(2, 3, dtype=torch.bool))}
    >>> fusion(frames).shape, fusion.output_size
    (torch.Size([2, 20]), 20)
"""

from __future__ import annotations

import math

import torch

from emotransfer.models.frame_pooling import sequence_mean
from emotransfer.models.fusion import Fusion


class CrossAttentionFusion(Fusion):
    """Per modality: its mean frame and the frame mix the other modalities' summary attends to.

    Args:
        sizes: modality -> frame width ``D_m``.
        attention_size: width of queries and keys.
    """

    takes = "frames"

    def __init__(self, *, sizes: dict[str, int], attention_size: int = 64) -> None:
        super().__init__(sizes=sizes)
        if attention_size < 1:
            raise ValueError(f"attention_size {attention_size} must be >= 1")
        self.attention_size = attention_size
        self.output_size = 2 * sum(self.sizes.values())
        self.queries = torch.nn.ModuleDict({
            name: torch.nn.Linear(self._context_size(name), attention_size)
            for name in self.sizes
        })  # fmt: skip
        self.keys = torch.nn.ModuleDict({
            name: torch.nn.Linear(size, attention_size) for name, size in self.sizes.items()
        })  # fmt: skip

    def _context_size(self, name: str) -> int:
        others = [size for other, size in self.sizes.items() if other != name]
        return sum(others) if others else self.sizes[name]

    def forward(  # type: ignore[override]
        self, frames: dict[str, tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        means = {name: sequence_mean(*frames[name]) for name in self.sizes}
        parts = []
        for name in self.sizes:
            sequence, mask = frames[name]
            others = [means[other] for other in self.sizes if other != name] or [means[name]]
            query = self.queries[name](torch.cat(others, dim=-1))  # (B, A)
            scores = (self.keys[name](sequence) @ query[..., None])[..., 0]  # (B, T)
            scores = scores.masked_fill(~mask, float("-inf")) / math.sqrt(self.attention_size)
            weights = torch.softmax(scores, dim=-1)
            parts += [means[name], (weights[..., None] * sequence).sum(1)]
        return torch.cat(parts, dim=-1)
