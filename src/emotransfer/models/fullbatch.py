"""The one optimisation loop of the small torch heads: Adam or AdamW steps on a loss closure.

Every head on pooled features (MLP, layer sum, multitask, DANN and the DA autoencoder, the
shared subspace, the few-shot baselines, MAML's outer loop) builds its modules, writes its loss
as a closure over its tensors and calls :func:`fit_full_batch`. The closure usually reads the
whole training set (full batch); a head that trains on minibatches or episodes draws the next
one inside the closure, which is called exactly once per step.

Example:
    >>> weight = torch.nn.Parameter(torch.zeros(1))
    >>> losses = fit_full_batch(lambda: ((weight - 3.0) ** 2).sum(), [weight], steps=200,
    ...                         learning_rate=0.1, optimizer="adam")
    >>> len(losses), round(float(weight), 2), losses[-1] < losses[0]
    (200, 3.0, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import torch

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,  # weight_decay is an L2 term in the gradient
    "adamw": torch.optim.AdamW,  # weight_decay is decoupled
}


def fit_full_batch(
    loss: Callable[[], torch.Tensor],
    parameters: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    *,
    steps: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    optimizer: Literal["adam", "adamw"] = "adamw",
    modules: Sequence[torch.nn.Module] = (),
) -> list[float]:
    """Take ``steps`` optimiser steps on ``loss()``; return the loss of every step.

    Each step: zero the gradients, call ``loss()`` (a scalar tensor), back-propagate, step.
    Randomness (initialisation, dropout) comes from torch's global generator; callers wrap
    the fit in :func:`emotransfer.seeding.torch_seed`.

    Args:
        loss: closure returning the scalar loss of one step, e.g. over the ``(N, D)`` inputs
            it closes over; it may record its own diagnostics.
        parameters: what the optimiser updates: parameters, or parameter groups (dicts with
            ``"params"`` and per-group settings such as ``"weight_decay"``).
        steps: optimiser steps (epochs, for a full-batch loss).
        learning_rate: the optimiser's ``lr``.
        weight_decay: the default weight decay (a group's own value wins).
        optimizer: ``"adamw"`` (decoupled weight decay) or ``"adam"``.
        modules: put in training mode before the first step and in evaluation mode after the
            last (dropout on while training only).

    Returns:
        ``steps`` floats: ``loss().item()`` of each step, before its update.
    """
    chosen = OPTIMIZERS[optimizer](parameters, lr=learning_rate, weight_decay=weight_decay)
    for module in modules:
        module.train()
    losses = []
    for _ in range(steps):
        chosen.zero_grad()
        value = loss()
        value.backward()
        chosen.step()
        losses.append(value.item())
    for module in modules:
        module.eval()
    return losses
