"""Frozen encoder: only the layer mix and the head learn (a probe trained on audio)."""

from __future__ import annotations

from typing import Any

import torch

from emotransfer.transfer.base import head_parameters


class FrozenEncoder:
    """Freeze every encoder weight; the encoders stay in eval mode (no dropout)."""

    def apply(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        for encoder in model.encoders.values():
            encoder.freeze_in_eval()
        return [{"params": head_parameters(model), "lr_scale": 1.0}]

    def describe(self) -> dict[str, Any]:
        return {"strategy": "frozen"}
