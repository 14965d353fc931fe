"""Bottleneck adapters (Houlsby et al. 2019) after every encoder layer.

peft provides LoRA-style methods but not bottleneck adapters, so they are added here as
small residual modules (down-projection, GELU, up-projection initialised to zero, so training
starts from the pretrained function) applied to each transformer layer's output via a
forward hook.
"""

from __future__ import annotations

from typing import Any

import torch

from emotransfer.transfer.base import head_parameters, trainable_encoders


class Bottleneck(torch.nn.Module):
    def __init__(self, *, dim: int, bottleneck: int) -> None:
        super().__init__()
        self.down = torch.nn.Linear(dim, bottleneck)
        self.up = torch.nn.Linear(bottleneck, dim)
        torch.nn.init.zeros_(self.up.weight)
        torch.nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(torch.nn.functional.gelu(self.down(hidden)))


class Adapters:
    """One bottleneck adapter per transformer layer; the encoder itself stays frozen.

    Args:
        bottleneck: adapter width.
        lr_scale: learning-rate factor of the adapters relative to the head.
    """

    def __init__(self, *, bottleneck: int = 64, lr_scale: float = 1.0) -> None:
        self.bottleneck = bottleneck
        self.lr_scale = lr_scale

    def apply(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        adapters: list[torch.nn.Parameter] = []
        for encoder in trainable_encoders(model):
            encoder.freeze()
            blocks = encoder.blocks()
            if not blocks:
                raise ValueError("Adapters: this encoder has no layers to adapt")
            encoder.adapters = torch.nn.ModuleList(
                Bottleneck(dim=encoder.hidden_size, bottleneck=self.bottleneck) for _ in blocks
            )
            for block, adapter in zip(blocks, encoder.adapters):
                block.register_forward_hook(_hook(adapter))
            adapters += list(encoder.adapters.parameters())
        return [{"params": head_parameters(model), "lr_scale": 1.0},
                {"params": adapters, "lr_scale": self.lr_scale}]  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"strategy": "adapters", "bottleneck": self.bottleneck}


def _hook(adapter: Bottleneck) -> Any:
    def hook(module: torch.nn.Module, inputs: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (adapter(output[0]), *output[1:])
        return adapter(output)

    return hook
