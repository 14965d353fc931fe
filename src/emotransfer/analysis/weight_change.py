"""Relative weight change per hidden state: ``||W_after - W_before||_F / ||W_before||_F``."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping

import torch

from emotransfer.analysis.parameter_layers import canonical_name


def weight_change(
    before: Mapping[str, torch.Tensor],
    after: Mapping[str, torch.Tensor],
    layer_of: Callable[[str], int | None],
) -> dict[int, float]:
    """Relative weight change ``||W_after - W_before||_F / ||W_before||_F`` per layer.

    All floating-point tensors that ``layer_of`` maps to the same index count as one
    vector (squared differences and squared norms are summed, then the ratio's square root
    is taken). Names are matched after :func:`canonical_name` and ``layer_of`` receives the
    stripped name; names present in only one dict, and names mapped to ``None``, are
    ignored.

    LoRA/PEFT: adapter weights have no "before" value, and the effective change of a layer
    is the merged delta ``B @ A * scaling``. Pass a merged state dict as ``after``:
    :func:`~emotransfer.transfer.merge.merged_state_dict` of the model (any model with peft
    adapters, e.g. emotransfer's LoRA strategy), or
    ``peft_model.merge_and_unload().state_dict()``; unmerged LoRA weights of an encoder layer
    raise an error instead of silently counting as "unchanged".

    Returns:
        ``{layer index: relative change}`` for every layer with matched parameters, sorted by
        index (``inf`` if a layer's weights were all zero before and are not now).

    Raises:
        ValueError: no names match, no matched name belongs to a layer, shapes differ,
            a stripped name occurs twice, or ``after`` holds unmerged LoRA weights of a layer.

    Example:
        >>> from emotransfer.analysis.parameter_layers import layer_index
        >>> before = {"encoder.layers.0.fc.weight": torch.ones(4)}
        >>> after = {"encoder.layers.0.fc.weight": 1.1 * torch.ones(4)}
        >>> {k: round(v, 3) for k, v in weight_change(before, after, layer_index).items()}
        {1: 0.1}
    """
    old, new = _by_canonical_name(before, layer_of), _by_canonical_name(after, layer_of)
    shared = sorted(old.keys() & new.keys())
    if not shared:
        raise ValueError("no parameter names match between the two state dicts")
    changes: dict[int, float] = defaultdict(float)
    norms: dict[int, float] = defaultdict(float)
    for name in shared:
        layer = layer_of(name)
        if layer is None or not old[name].is_floating_point():
            continue
        if old[name].shape != new[name].shape:
            raise ValueError(f"{name!r}: shape {tuple(old[name].shape)} before, "
                             f"{tuple(new[name].shape)} after")  # fmt: skip
        start, end = old[name].detach().double(), new[name].detach().double()
        changes[layer] += float(torch.sum((end - start) ** 2))
        norms[layer] += float(torch.sum(start**2))
    if not changes:
        raise ValueError(f"none of the {len(shared)} matching names belongs to an encoder layer")
    return {layer: _ratio(changes[layer], norms[layer]) for layer in sorted(changes)}


def _by_canonical_name(
    state: Mapping[str, torch.Tensor], layer_of: Callable[[str], int | None]
) -> dict[str, torch.Tensor]:
    renamed: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        short = canonical_name(name)
        if short in renamed:
            raise ValueError(f"two parameters are named {short!r} once prefixes are stripped")
        if "lora_" in short and layer_of(short) is not None:
            raise ValueError(
                f"{name!r} is an unmerged LoRA weight of an encoder layer: pass the merged "
                "state dict (merged_state_dict(model) or merge_and_unload().state_dict())"
            )
        renamed[short] = tensor
    return renamed


def _ratio(squared_change: float, squared_norm: float) -> float:
    if squared_norm == 0:
        return 0.0 if squared_change == 0 else math.inf
    return math.sqrt(squared_change / squared_norm)
