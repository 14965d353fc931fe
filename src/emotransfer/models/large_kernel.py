"""A large-kernel CNN over the spectrogram in the manner of RepLKNet (Ding et al., "Scaling up
your kernels to 31x31: revisiting large kernel design in CNNs", CVPR 2022), as a registered
frame-level body.

The frames ``(B, T, D)`` are read as an image of ``D`` rows (mel bands, or hidden units) and
``T`` columns. A stem of two 3x3 convolutions (stride 2 along the rows, none along time, so the
mask passes through) widens it to ``channels``; each block then mixes channels (1x1), runs a
depthwise convolution with a very large kernel beside a parallel small kernel (each with its
batch norm), mixes channels again and adds its input; a 1x1 feed-forward block follows, as in
the paper. The output frame is the flattened ``channels x rows`` column.

Re-parameterisation: :meth:`LargeKernelCNN.merge` folds each branch's batch norm into its
convolution, pads the small kernel to the large one's size and adds them, leaving one
depthwise convolution with a bias; the merged body gives the same outputs in eval mode (to
float32 rounding) and runs one convolution instead of two. The Predictor merges the models it
serves; training and the saved weights use the two branches.

Padded frames are set to zero after every layer, so a clip's real frames come out the same
alone or padded in a batch (eval mode); in training, batch norm's batch statistics also count
the padded zeros.

Example:
    >>> body = LargeKernelCNN(input_size=16, channels=4, kernel=(7, 13), small_kernel=3)
    >>> frames, mask = body.eval()(torch.randn(2, 20, 16), torch.ones(2, 20, dtype=torch.bool))
    >>> tuple(frames.shape), body.output_size
    ((2, 20, 16), 16)
"""

from __future__ import annotations

import torch

from emotransfer.models.bodies import Body


def _pair(value: int | tuple[int, ...] | list[int], name: str) -> tuple[int, int]:
    pair = (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or any(v < 1 or v % 2 == 0 for v in pair):
        raise ValueError(f"{name} {value!r}: one odd size >= 1, or [rows, frames] of odd sizes")
    return pair  # type: ignore[return-value]


def fuse(conv: torch.nn.Conv2d, norm: torch.nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of one convolution that computes ``norm(conv(x))`` in eval mode."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = norm.bias - norm.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv.weight * scale[:, None, None, None], bias


class LargeKernel(torch.nn.Module):
    """A depthwise ``kernel`` convolution beside a depthwise ``small_kernel`` one, each followed
    by batch norm, summed; :meth:`merge` turns them into one convolution with a bias."""

    def __init__(self, channels: int, kernel: tuple[int, int], small_kernel: tuple[int, int]):
        super().__init__()
        self.kernel = kernel

        def branch(size: tuple[int, int]) -> torch.nn.Sequential:
            padding = (size[0] // 2, size[1] // 2)
            return torch.nn.Sequential(
                torch.nn.Conv2d(
                    channels, channels, size, padding=padding, groups=channels, bias=False
                ),  # fmt: skip
                torch.nn.BatchNorm2d(channels),
            )

        self.large = branch(kernel)
        self.small = branch(small_kernel)
        self.merged: torch.nn.Conv2d | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged is not None:
            return self.merged(x)
        return self.large(x) + self.small(x)

    @torch.no_grad()
    def merge(self) -> None:
        """Replace the two branches by the one convolution they compute in eval mode."""
        if self.merged is not None:
            return
        weight, bias = fuse(*self.large)
        small, small_bias = fuse(*self.small)
        rows = (self.kernel[0] - small.shape[2]) // 2
        columns = (self.kernel[1] - small.shape[3]) // 2
        weight = weight + torch.nn.functional.pad(small, (columns, columns, rows, rows))
        large = self.large[0]
        merged = torch.nn.Conv2d(large.in_channels, large.out_channels, self.kernel,
                                 padding=large.padding, groups=large.groups,
                                 bias=True).to(weight)  # fmt: skip
        merged.weight.copy_(weight)
        merged.bias.copy_(bias + small_bias)
        self.merged = merged
        del self.large, self.small


class LargeKernelCNN(Body):
    """Stem, then ``blocks`` x (large-kernel block, feed-forward block), flattened per frame.

    Args:
        input_size: ``D``, the rows of the input image (the frames' width).
        channels: feature maps after the stem and in every block.
        blocks: large-kernel blocks (each with its feed-forward block).
        kernel: the large depthwise kernel, ``[rows, frames]`` or one size (odd).
        small_kernel: the parallel small kernel (odd, at most ``kernel``).
        expansion: the feed-forward block's width, in multiples of ``channels``.
        dropout: on each block's output before the residual sum (training only).
    """

    def __init__(
        self, *, input_size: int, channels: int = 16, blocks: int = 2,
        kernel: int | tuple[int, int] | list[int] = (9, 31),
        small_kernel: int | tuple[int, int] | list[int] = 5,
        expansion: int = 2, dropout: float = 0.1,
    ) -> None:  # fmt: skip
        super().__init__(input_size=input_size)
        large, small = _pair(kernel, "kernel"), _pair(small_kernel, "small_kernel")
        if small[0] > large[0] or small[1] > large[1]:
            raise ValueError(f"small_kernel {list(small)} is larger than kernel {list(large)}")
        if channels < 1 or blocks < 1 or expansion < 1:
            raise ValueError(f"channels {channels}, blocks {blocks} and expansion {expansion} "
                             "must be >= 1")  # fmt: skip
        self.channels, self.kernel, self.small_kernel = channels, large, small
        self.rows = ((input_size + 1) // 2 + 1) // 2  # after two stride-2 rows
        self.output_size = channels * self.rows

        def conv_norm(inputs: int, outputs: int) -> torch.nn.Sequential:
            return torch.nn.Sequential(
                torch.nn.Conv2d(inputs, outputs, 3, stride=(2, 1), padding=1, bias=False),
                torch.nn.BatchNorm2d(outputs),
            )

        self.stem = torch.nn.ModuleList([conv_norm(1, channels), conv_norm(channels, channels)])
        self.kernels = torch.nn.ModuleList()
        self.mixers = torch.nn.ModuleList()
        self.feedforwards = torch.nn.ModuleList()
        for _ in range(blocks):
            self.kernels.append(LargeKernel(channels, large, small))
            self.mixers.append(torch.nn.ModuleList([
                torch.nn.BatchNorm2d(channels), torch.nn.Conv2d(channels, channels, 1),
                torch.nn.Conv2d(channels, channels, 1),
            ]))  # fmt: skip
            self.feedforwards.append(torch.nn.Sequential(
                torch.nn.BatchNorm2d(channels), torch.nn.Conv2d(channels, expansion * channels, 1),
                torch.nn.GELU(), torch.nn.Conv2d(expansion * channels, channels, 1),
            ))  # fmt: skip
        self.dropout = torch.nn.Dropout(dropout)

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        keep = mask[:, None, None, :].to(frames.dtype)  # (B, 1, 1, T)
        image = frames.transpose(1, 2)[:, None] * keep  # (B, 1, D, T)
        for layer in self.stem:
            image = torch.relu(layer(image)) * keep
        for kernel, (norm, first, second), feedforward in zip(
            self.kernels, self.mixers, self.feedforwards
        ):
            hidden = torch.relu(first(norm(image))) * keep
            hidden = torch.relu(kernel(hidden)) * keep
            image = image + self.dropout(second(hidden)) * keep
            image = image + self.dropout(feedforward(image)) * keep
        batch, channels, rows, length = image.shape
        return image.reshape(batch, channels * rows, length).transpose(1, 2), mask

    def merge(self) -> None:
        """Re-parameterise every large-kernel block into one convolution (see the module)."""
        for kernel in self.kernels:
            kernel.merge()
