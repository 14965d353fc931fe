"""Full and partial fine-tuning with optional layer-wise learning-rate decay.

Example:
    >>> FineTune(freeze_bottom=2).describe()["freeze_bottom"]
    2
"""

from __future__ import annotations

from typing import Any

import torch

from emotransfer.transfer.base import head_parameters, trainable, trainable_encoders


class FineTune:
    """Train the encoder too, except the parts named frozen.

    Args:
        freeze_feature_encoder: keep the convolutional front end (and Whisper's positions)
            fixed, as wav2vec2 fine-tuning usually does.
        freeze_bottom: keep the first ``k`` transformer layers fixed.
        freeze_top: keep the last ``k`` transformer layers fixed.
        layer_decay: learning rate of layer ``i`` of ``L`` is ``lr * layer_decay ** (L - i)``
            (1.0 = same rate everywhere); the front end gets ``layer_decay ** (L + 1)``.
        encoder_lr_scale: extra factor on every encoder learning rate (heads use 1.0).
    """

    def __init__(
        self,
        *,
        freeze_feature_encoder: bool = True,
        freeze_bottom: int = 0,
        freeze_top: int = 0,
        layer_decay: float = 1.0,
        encoder_lr_scale: float = 1.0,
    ) -> None:
        self.freeze_feature_encoder = freeze_feature_encoder
        self.freeze_bottom = freeze_bottom
        self.freeze_top = freeze_top
        self.layer_decay = layer_decay
        self.encoder_lr_scale = encoder_lr_scale

    def apply(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        groups: dict[float, list[torch.nn.Parameter]] = {}
        for encoder in trainable_encoders(model):
            self._freeze(encoder)
            for parameter, depth in self._parts(encoder):
                if parameter.requires_grad:
                    scale = self.encoder_lr_scale * self.layer_decay**depth
                    groups.setdefault(scale, []).append(parameter)
        result = [{"params": head_parameters(model), "lr_scale": 1.0}]
        for scale, parameters in sorted(groups.items()):
            if trainable(parameters):
                result.append({"params": parameters, "lr_scale": scale})
        return result

    def _freeze(self, encoder: Any) -> None:
        """Through the encoder's own interface: everything trains, then its front end
        (``freeze_front_end``) and the chosen blocks are frozen."""
        encoder.requires_grad_(True)
        if self.freeze_feature_encoder:
            encoder.freeze_front_end()
        blocks = encoder.blocks()
        for index, block in enumerate(blocks):
            if index < self.freeze_bottom or index >= len(blocks) - self.freeze_top:
                block.requires_grad_(False)

    def _parts(self, encoder: Any) -> list[tuple[torch.nn.Parameter, int]]:
        """``(parameter, depth below the top)`` for every encoder weight: block ``i`` of
        ``L`` has depth ``L - i``, the front end ``L + 1``, the rest (final layer norm,
        positional convolution) 0."""
        blocks = encoder.blocks()
        layers = len(blocks)
        parts: list[tuple[torch.nn.Parameter, int]] = []
        seen: set[int] = set()
        for index, block in enumerate(blocks):
            for parameter in block.parameters():
                parts.append((parameter, layers - index))
                seen.add(id(parameter))
        for parameter in encoder.front_end_parameters():
            parts.append((parameter, layers + 1))
            seen.add(id(parameter))
        parts += [(p, 0) for p in encoder.parameters() if id(p) not in seen]
        return parts

    def describe(self) -> dict[str, Any]:
        return {
            "strategy": type(self).__name__,
            "freeze_feature_encoder": self.freeze_feature_encoder,
            "freeze_bottom": self.freeze_bottom,
            "freeze_top": self.freeze_top,
            "layer_decay": self.layer_decay,
            "encoder_lr_scale": self.encoder_lr_scale,
        }


class FullFineTune(FineTune):
    """Every encoder weight trains, the convolutional front end included."""

    def __init__(self, *, layer_decay: float = 1.0, encoder_lr_scale: float = 1.0) -> None:
        super().__init__(freeze_feature_encoder=False, layer_decay=layer_decay,
                         encoder_lr_scale=encoder_lr_scale)  # fmt: skip

    def get_params(self) -> dict[str, Any]:
        return {"layer_decay": self.layer_decay, "encoder_lr_scale": self.encoder_lr_scale}
