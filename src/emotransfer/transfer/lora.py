"""LoRA on the encoder's attention projections, through peft.

Example:
    >>> LoRA(rank=4).describe()["rank"]
    4
"""

from __future__ import annotations

from typing import Any

import torch

from emotransfer.transfer.base import head_parameters, trainable_encoders


class LoRA:
    """Low-rank adapters (Hu et al. 2021) injected with ``peft.inject_adapter_in_model``.

    Args:
        rank: the rank ``r`` of each update.
        alpha: scaling numerator (update scale ``alpha / r``).
        dropout: dropout on the adapter input.
        target_modules: linear layers to adapt (names inside the encoder).
        lr_scale: learning-rate factor of the adapters relative to the head.
    """

    def __init__(
        self,
        *,
        rank: int = 8,
        alpha: float = 16.0,
        dropout: float = 0.05,
        target_modules: tuple[str, ...] | list[str] = ("q_proj", "v_proj"),
        lr_scale: float = 1.0,
    ) -> None:
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.target_modules = target_modules
        self.lr_scale = lr_scale

    def apply(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        from peft import LoraConfig, inject_adapter_in_model

        config = LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout,
                            target_modules=list(self.target_modules))  # fmt: skip
        adapters: list[torch.nn.Parameter] = []
        for encoder in trainable_encoders(model):
            encoder.freeze()
            try:
                inject_adapter_in_model(config, encoder.adaptable())
            except Exception as error:  # peft raises its own error types
                raise ValueError(
                    f"LoRA: no module named like {list(self.target_modules)} in the encoder"
                ) from error
            adapters += lora_parameters(encoder)
        for parameter in adapters:
            parameter.requires_grad_(True)
        return [{"params": head_parameters(model), "lr_scale": 1.0},
                {"params": adapters, "lr_scale": self.lr_scale}]  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"strategy": "lora", "rank": self.rank, "alpha": self.alpha,
                "dropout": self.dropout, "target_modules": list(self.target_modules)}  # fmt: skip


def lora_parameters(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The weights peft added: of every :class:`peft.tuners.lora.LoraLayer` in ``module``,
    its adapter layers (``adapter_layer_names``: ``lora_A``, ``lora_B``, ...), in module
    order; found by type, not by name."""
    from peft.tuners.lora import LoraLayer

    found: list[torch.nn.Parameter] = []
    for layer in module.modules():
        if isinstance(layer, LoraLayer):
            for name in layer.adapter_layer_names:
                found += list(getattr(layer, name).parameters())
    return found
