"""The strategy interface and helpers shared by strategies.

A strategy edits a freshly built :class:`~emotransfer.models.emotion_model.EmotionModel` in
place (freezes parameters, injects adapters) through the encoder interface
(:meth:`~emotransfer.encoders.base.Encoder.blocks`, ``front_end_parameters``, ``adaptable``,
``freeze``) and returns optimizer parameter groups, each with an ``lr_scale`` relative to the
trainer's learning rate. The model's own :meth:`head_parameters` always train. Applying the
same strategy to a fresh model reproduces the parameter names, so saved weights load back.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class Strategy(Protocol):
    def apply(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        """Set ``requires_grad`` and return parameter groups ``{"params", "lr_scale"}``."""
        ...

    def describe(self) -> dict[str, Any]: ...


def head_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """What the model trains whatever the strategy (layer mixes, fusion, heads)."""
    return list(model.head_parameters())


def trainable_encoders(model: torch.nn.Module) -> list[Any]:
    """The model's encoders that have weights (a frozen upstream has none)."""
    return [
        encoder for encoder in model.encoders.values() if any(True for _ in encoder.parameters())
    ]


def freeze(module: torch.nn.Module) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(False)


def trainable(parameters: list[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
    return [p for p in parameters if p.requires_grad]
