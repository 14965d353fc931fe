"""The strategy interface and helpers shared by strategies.

A strategy edits a freshly built :class:`~emotransfer.models.audio_model.EmotionModel` in
place (freezes parameters, injects adapters) and returns optimizer parameter groups, each
with an ``lr_scale`` relative to the trainer's learning rate. Applying the same strategy to
a fresh model reproduces the parameter names, so saved weights load back.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import torch

LAYER = re.compile(r"\.layers?\.(\d+)\.")


class Strategy(Protocol):
    def apply(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        """Set ``requires_grad`` and return parameter groups ``{"params", "lr_scale"}``."""
        ...

    def describe(self) -> dict[str, Any]: ...


def head_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The layer mix and the classifier: always trained."""
    return [*model.layer_sum.parameters(), *model.head.parameters()]


def encoder_layer(name: str) -> int | None:
    """Transformer layer index of an encoder parameter name (``...layers.3...`` -> 3)."""
    match = LAYER.search(name)
    return int(match.group(1)) if match else None


def freeze(module: torch.nn.Module) -> None:
    for parameter in module.parameters():
        parameter.requires_grad_(False)


def trainable(parameters: list[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
    return [p for p in parameters if p.requires_grad]
