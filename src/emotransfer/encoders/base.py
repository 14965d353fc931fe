"""The encoder interface: items of one modality in, every hidden state out.

In the spirit of s3prl's upstream interface and transformers' conventions:

* ``num_layers`` is ``L``, the number of layers; an encoder gives ``L + 1`` hidden states
  (``num_states``), index 0 the embedding before the first layer and index ``L`` the last
  layer's output. A front end without layers (log-mel, openSMILE) has ``L = 0``.
* ``prepare(items) -> batch`` does the CPU side (decoding, resampling, feature extraction,
  padding) so data loading stays outside the network; ``forward(batch)`` returns an
  :class:`EncoderOutput` with ``states (B, L + 1, T, D)`` and ``mask (B, T)``.
* The encoder owns its freezing and names its parts: ``front_end_parameters()`` (the
  convolutional feature encoder, positions), ``blocks()`` (the layers, bottom to top), and
  ``adaptable()`` (the module that LoRA and adapters edit). Strategies use these, never
  parameter-name strings.

A new encoder is a subclass in its own file plus one line in the ``encoder`` registry table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch


@dataclass
class EncoderOutput:
    """Hidden states ``(B, L + 1, T, D)`` and the mask of real frames ``(B, T)`` (bool)."""

    states: torch.Tensor
    mask: torch.Tensor


class Encoder(torch.nn.Module):
    """Base class of trainable encoders.

    Attributes:
        modality: the input kind (``"audio"``, ``"text"``, ``"video"``).
        num_layers: ``L``; the encoder gives ``L + 1`` hidden states.
        hidden_size: ``D``, the width of every hidden state.
        frame_rate: frames per second of ``T`` (``0.0`` for one vector per item).
        sample_rate: audio rate in Hz the items must have (audio encoders; else ``None``).
    """

    modality: ClassVar[str] = "audio"
    num_layers: int
    hidden_size: int
    frame_rate: float
    sample_rate: int | None = None

    @property
    def num_states(self) -> int:
        """``L + 1``."""
        return self.num_layers + 1

    @property
    def item_rate(self) -> float | None:
        """Units of an item's first axis per second: samples for a waveform (the sample
        rate), frames for precomputed states; ``None`` for items without time."""
        return self.sample_rate

    def prepare(self, items: list[Any]) -> dict[str, torch.Tensor]:
        """CPU side: items (waveforms at ``sample_rate``, texts, ...) -> a batch of tensors."""
        raise NotImplementedError

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        raise NotImplementedError

    def blank_item(self) -> Any:
        """An item that stands for a missing one (a clip without text): it only has to go
        through :meth:`prepare` and ``forward``; the model replaces its pooled vector.

        Raises:
            ValueError: this encoder's items cannot be missing (the audio).
        """
        raise ValueError(f"{type(self).__name__}: a clip cannot lack this input")

    def export_inputs(self, item: Any) -> dict[str, torch.Tensor]:
        """One item's batch for an exported graph (ONNX): what ``forward`` needs without
        padding or frame counts, so that every frame is real and the time axis is the item's
        own (``forward`` takes a batch without ``frames`` as such a clip).
        An encoder that cannot be exported overrides this to raise ``ValueError`` saying why.
        """
        return {name: value for name, value in self.prepare([item]).items() if name != "frames"}

    def front_end_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters below the first layer (convolutional front end, positions)."""
        return []

    def blocks(self) -> list[torch.nn.Module]:
        """The layers, bottom to top: block ``i`` makes hidden state ``i + 1``."""
        return []

    def adaptable(self) -> torch.nn.Module:
        """The module parameter-efficient methods edit (LoRA injects into it)."""
        return self

    def freeze_front_end(self) -> None:
        for parameter in self.front_end_parameters():
            parameter.requires_grad_(False)

    def freeze(self) -> None:
        """Freeze every weight of the encoder (modules added later, LoRA or adapters, train)."""
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def freeze_in_eval(self) -> None:
        """Freeze every weight and stay in eval mode (no dropout) while the model trains: the
        encoder of the frozen strategy gives a clip the same states in training as at
        inference, the states ``finetune.cache_states`` computes once."""
        self.freeze()
        self.frozen = True
        self.eval()

    def train(self, mode: bool = True) -> Encoder:
        """``torch.nn.Module.train``, except that a frozen encoder stays in eval mode."""
        return super().train(mode and not getattr(self, "frozen", False))

    def check_layer(self, layer: int | None) -> None:
        """Raise ``ValueError`` for a hidden-state index the encoder does not have."""
        states = self.num_states
        if layer is not None and not -states <= layer < states:
            raise ValueError(
                f"layer={layer}: the encoder gives {states} hidden state"
                f"{'s' if states != 1 else ''}: use 0..{states - 1}, -{states}..-1, or none "
                "for the weighted layer sum"
            )


def module_list(module: torch.nn.Module, paths: tuple[str, ...], name: str) -> list[Any]:
    """The modules of the first ``torch.nn.ModuleList`` found at one of the dotted ``paths``
    inside ``module`` (a transformers model's layers sit at different paths per family).

    Raises:
        ValueError: none of the paths holds a module list (names ``name``).

    Example:
        >>> model = torch.nn.Module()
        >>> model.encoder = torch.nn.Module()
        >>> model.encoder.layer = torch.nn.ModuleList([torch.nn.Linear(2, 2)])
        >>> len(module_list(model, ("layers", "encoder.layer"), "tiny"))
        1
    """
    for path in paths:
        node: Any = module
        for part in path.split("."):
            node = getattr(node, part, None)
        if isinstance(node, torch.nn.ModuleList):
            return list(node)
    raise ValueError(f"{name!r}: cannot find the transformer layers of this encoder")


def frame_mask(frames: torch.Tensor, longest: int) -> torch.Tensor:
    """``(B, T)`` bool mask of the first ``frames[b]`` frames of each row.

    Example:
        >>> frame_mask(torch.tensor([1, 3]), 3).int().tolist()
        [[1, 0, 0], [1, 1, 1]]
    """
    return torch.arange(longest, device=frames.device)[None, :] < frames[:, None]


def whole_or_mask(frames: torch.Tensor | None, sequence: torch.Tensor) -> torch.Tensor:
    """The ``(B, T)`` mask of ``sequence`` ``(B, T, ...)``: the first ``frames[b]`` frames of
    each row, or every frame where no counts are given (one clip of an exported graph, whose
    time axis is the clip's: see :meth:`Encoder.export_inputs`)."""
    if frames is None:
        return torch.ones(sequence.shape[:2], dtype=torch.bool, device=sequence.device)
    return frame_mask(frames, sequence.shape[1])
