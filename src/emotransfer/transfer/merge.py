"""Merging adapters into the weights they adapt (LoRA -> a plain encoder).

Used to export a fine-tuned encoder as a plain model folder and to measure how far each layer
moved in fine-tuning.
"""

from __future__ import annotations

from copy import deepcopy

import torch


def merged_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` with its peft adapters merged into the adapted weights.

    Works on a copy (``model`` stays as it is) with peft's own ``merge`` of every adapted
    module, so LoRA variants merge as peft defines them; adapter weights are dropped and
    ``.base_layer.`` leaves the names. A model without adapters gives its plain state dict.

    Example:
        >>> import peft
        >>> base = torch.nn.Sequential(torch.nn.Linear(4, 4))
        >>> adapted = peft.inject_adapter_in_model(
        ...     peft.LoraConfig(r=2, target_modules=["0"], init_lora_weights=False), base)
        >>> merged = merged_state_dict(adapted)
        >>> sorted(merged)
        ['0.bias', '0.weight']
        >>> x = torch.randn(3, 4)
        >>> torch.allclose(adapted(x), x @ merged["0.weight"].T + merged["0.bias"])
        True
    """
    if not any(_is_adapter_layer(module) for module in model.modules()):
        return {name: value.detach().clone() for name, value in model.state_dict().items()}
    copy = merged_copy(model)
    return {
        name.replace(".base_layer.", "."): value.detach()
        for name, value in copy.state_dict().items()
        if not any(part.startswith("lora_") for part in name.split("."))
    }


def merged_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` whose peft adapters are merged into the weights they adapt (peft's
    ``merge``): the same outputs, without the adapters' extra products (what an exported
    graph computes)."""
    copy = deepcopy(model)
    for module in copy.modules():
        if _is_adapter_layer(module) and not getattr(module, "disable_adapters", False):
            module.merge()  # type: ignore[operator]
    return copy


def _is_adapter_layer(module: torch.nn.Module) -> bool:
    # peft's BaseTunerLayer, without importing peft for models that have no adapters.
    return hasattr(module, "base_layer") and callable(getattr(module, "merge", None))
