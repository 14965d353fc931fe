"""Multi-scale CNN over frames (Peng et al., "Efficient speech emotion recognition using
multi-scale CNN and attention", ICASSP 2021), as a registered frame-level body.

Parallel 1-D convolutions of several kernel sizes (e.g. 3, 5, 7 frames) look at the frame
sequence at several time scales; their outputs are concatenated channel-wise, and further
layers of the same kind may follow. With ``same`` zero padding and no batch statistics, a clip's
real frames come out the same whether it is alone or padded in a batch, and the mask passes
through unchanged. The paper's statistical pooling unit (mean, standard deviation, maximum and
minimum over time) is the ``stats`` pooling
(:class:`~emotransfer.models.frame_pooling.StatisticsPooling`); its attention between audio and
text is issue 15's cross-modal fusion.

Example:
    >>> body = MultiScaleCNN(input_size=8, kernels=(3, 5), channels=4, layers=2)
    >>> frames, mask = body(torch.randn(2, 10, 8), torch.ones(2, 10, dtype=torch.bool))
    >>> tuple(frames.shape), body.output_size
    ((2, 10, 8), 8)
"""

from __future__ import annotations

import torch

from emotransfer.models.bodies import Body


class MultiScaleCNN(Body):
    """``layers`` multi-scale blocks: per block, one Conv1d per kernel size (``channels``
    each, ``same`` padding), concatenated, then ReLU and dropout.

    Args:
        input_size: ``D``, the width of the input frames.
        kernels: odd kernel sizes in frames, one branch each.
        channels: output channels per branch (``D' = channels * len(kernels)``).
        layers: blocks in sequence.
        dropout: after each block (training only).
    """

    def __init__(
        self, *, input_size: int, kernels: tuple[int, ...] | list[int] = (3, 5, 7),
        channels: int = 32, layers: int = 2, dropout: float = 0.1,
    ) -> None:  # fmt: skip
        super().__init__(input_size=input_size)
        kernels = tuple(int(k) for k in kernels)
        if not kernels or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(f"kernels {list(kernels)}: odd sizes >= 1 (same padding)")
        if channels < 1 or layers < 1:
            raise ValueError(f"channels {channels} and layers {layers} must be >= 1")
        self.kernels, self.channels, self.layers = kernels, channels, layers
        self.output_size = channels * len(kernels)
        widths = [input_size] + [self.output_size] * (layers - 1)
        self.blocks = torch.nn.ModuleList(
            torch.nn.ModuleList(torch.nn.Conv1d(width, channels, k, padding=k // 2)
                                for k in kernels)
            for width in widths
        )  # fmt: skip
        self.dropout = torch.nn.Dropout(dropout)

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        keep = mask[:, None, :].to(frames.dtype)
        hidden = frames.transpose(1, 2) * keep  # (B, D, T), padded frames are zeros
        for branches in self.blocks:
            hidden = torch.cat([branch(hidden) for branch in branches], dim=1)
            hidden = self.dropout(torch.relu(hidden)) * keep
        return hidden.transpose(1, 2), mask
