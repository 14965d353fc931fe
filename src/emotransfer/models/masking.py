"""SpecAugment-style masking (Park et al., "SpecAugment: a simple data augmentation method for
automatic speech recognition", Interspeech 2019) in front of another body.

While training, each clip gets ``freq_masks`` bands of up to ``freq_width`` feature rows and
``time_masks`` stretches of up to ``time_width`` real frames set to the clip's mean frame
(zero for standardised inputs, the log-mel's average level for raw ones), then the frames go
to the wrapped body (``body``, ``body_params``: any registered body). In eval mode nothing is
masked, so prediction is unchanged; the masks are drawn from torch's generator, which the
Trainer seeds.

Example:
    >>> body = SpecAugmentBody(input_size=8, body="mscnn", body_params={"channels": 2})
    >>> frames, mask = body.eval()(torch.randn(2, 30, 8), torch.ones(2, 30, dtype=torch.bool))
    >>> tuple(frames.shape), body.output_size
    ((2, 30, 6), 6)
"""

from __future__ import annotations

from typing import Any

import torch

from emotransfer import registry
from emotransfer.models.bodies import Body
from emotransfer.models.frame_pooling import sequence_mean


class SpecAugmentBody(Body):
    """Frequency and time masks while training, then ``body``.

    Args:
        input_size: ``D``, the width of the input frames.
        freq_masks, freq_width: bands of feature rows masked per clip, each up to this wide.
        time_masks, time_width: stretches of frames masked per clip, each up to this long
            (and at most a fifth of the clip's real frames).
        body, body_params: the registered body the masked frames go to.
    """

    def __init__(
        self, *, input_size: int, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2,
        time_width: int = 20, body: str = "identity", body_params: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(input_size=input_size)
        if min(freq_masks, freq_width, time_masks, time_width) < 0:
            raise ValueError("specaugment: mask counts and widths must be >= 0")
        if body == "specaugment":
            raise ValueError("specaugment: the wrapped body cannot be another specaugment")
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width
        self.inner = registry.build("body", body, input_size=input_size, **dict(body_params or {}))
        self.output_size = self.inner.output_size

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        if self.training:
            frames = self.masked(frames, mask)
        return self.inner(frames, mask)

    def masked(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``frames`` with the masks of one draw (padded frames stay as they are)."""
        batch, length, width = frames.shape
        mean = sequence_mean(frames, mask)[:, None]
        hidden = torch.zeros(batch, length, width, dtype=torch.bool, device=frames.device)
        rows = torch.arange(width, device=frames.device)
        steps = torch.arange(length, device=frames.device)
        real = mask.sum(1)
        for _ in range(self.freq_masks):
            size = torch.randint(0, self.freq_width + 1, (batch, 1), device=frames.device)
            start = (torch.rand(batch, 1, device=frames.device) * (width - size + 1)).long()
            band = (rows[None] >= start) & (rows[None] < start + size)  # (B, D)
            hidden |= band[:, None, :]
        for _ in range(self.time_masks):
            most = torch.clamp(torch.minimum(real // 5, torch.tensor(self.time_width)), min=0)
            size = (torch.rand(batch, device=frames.device) * (most + 1)).long()[:, None]
            start = (torch.rand(batch, 1, device=frames.device) * (real[:, None] - size + 1)).long()
            stretch = (steps[None] >= start) & (steps[None] < start + size)  # (B, T)
            hidden |= stretch[:, :, None]
        hidden &= mask[..., None]
        return torch.where(hidden, mean.expand_as(frames), frames)

    def merge(self) -> None:
        if isinstance(self.inner, Body):
            self.inner.merge()
