"""Frame-level bodies: the slot between an encoder's (selected or mixed) hidden states and the
pooling, where a model of the SER literature (a multi-scale CNN, a key-sparse transformer)
lives.

A body is built with the width of its input frames (``input_size``, ``D``) and its own
keyword parameters, states ``output_size`` (``D'``) and maps frames ``(B, T, D)`` with their
mask ``(B, T)`` (``True`` for real frames) to frames ``(B, T', D')`` with a mask ``(B, T')``.
A new body is a class in its own file plus one line in the ``body`` registry table, or a
``module:Class`` plugin.

Example:
    >>> import torch
    >>> body = IdentityBody(input_size=4)
    >>> frames, mask = body(torch.ones(2, 5, 4), torch.ones(2, 5, dtype=torch.bool))
    >>> frames.shape, mask.shape, body.output_size
    (torch.Size([2, 5, 4]), torch.Size([2, 5]), 4)
"""

from __future__ import annotations

import torch


class Body(torch.nn.Module):
    """Base class: ``input_size`` in, ``output_size`` out (the same unless a subclass says)."""

    def __init__(self, *, input_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.output_size = input_size

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        raise NotImplementedError

    def merge(self) -> None:
        """Turn training-time branches into their inference form, computing the same outputs
        in eval mode (re-parameterisation; the Predictor calls it on the models it serves).
        Nothing to merge by default."""


class IdentityBody(Body):
    """No frame-level model: the frames as they are (the default). A model with this body
    pools every hidden state and mixes the pooled statistics (see
    :class:`~emotransfer.models.emotion_model.EmotionModel`)."""

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        return frames, mask
