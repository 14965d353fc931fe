"""A trainable emotion model on audio: pretrained encoder -> layer mix -> pooling -> head.

The encoder is any model :class:`~emotransfer.features.hf.HFEncoder` loads (Whisper or
wav2vec2-style), now with gradients. ``prepare`` turns waveforms into a batch on the CPU
(log-mels for Whisper, normalised waveforms for wav2vec2) so data loading stays outside the
network; ``forward`` returns logits.

Shapes: ``prepare(waves)`` -> dict of tensors; hidden states ``(B, L + 1, T, D)``;
frame mask ``(B, T)``; pooled ``(B, D)``; logits ``(B, C)``.

Speaker normalisation (``speaker_norm=True``): the pooled vector of each clip has the mean
pooled vector of its speaker's clips subtracted (speakers given as ``batch["speaker"]``, integer
ids ``(B,)``): the fine-tuned counterpart of per-speaker feature normalisation. Training batches
hold one speaker each (see the Trainer); prediction uses all the clips of a speaker at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from emotransfer.features.hf import HFEncoder
from emotransfer.models.layers import WeightedLayerSum


class AudioBackbone(torch.nn.Module):
    """The transformers encoder of an :class:`HFEncoder`, as a trainable module.

    Args:
        source: the loaded runner of an HFEncoder (``HFEncoder(...)._load()``).
    """

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.whisper = hasattr(source, "encoder")
        self.module = source.encoder if self.whisper else source.model
        self.module.float()
        self._source = source
        self.num_layers = int(source.num_layers)
        self.hidden_size = int(source.hidden_size)

    def prepare(self, waves: list[np.ndarray]) -> dict[str, torch.Tensor]:
        source = self._source
        if self.whisper:
            mels = source.features(waves, sampling_rate=source.sample_rate, return_tensors="pt")
            frames = [math.ceil(len(w) / source.hop) for w in waves]
            return {"mels": mels.input_features, "frames": torch.tensor(frames)}
        waves = [np.pad(w, (0, max(0, source.min_samples - len(w)))) for w in waves]
        inputs = source.features(waves, sampling_rate=source.sample_rate, padding=True,
                                 return_attention_mask=True, return_tensors="pt")  # fmt: skip
        lengths = self.module._get_feat_extract_output_lengths(
            torch.tensor([len(w) for w in waves])
        )
        return {"values": inputs["input_values"], "mask": inputs["attention_mask"],
                "frames": lengths}  # fmt: skip

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states ``(B, L + 1, T, D)`` and the mask of real frames ``(B, T)``."""
        frames = batch["frames"]
        if self.whisper:
            source = self._source
            if source.real_length:
                states = source._real_length(batch["mels"], [int(n) for n in frames])
            else:
                states = self.module(batch["mels"], output_hidden_states=True).hidden_states
        else:
            states = self.module(batch["values"], attention_mask=batch["mask"],
                                 output_hidden_states=True).hidden_states  # fmt: skip
        longest = int(frames.max())
        stacked = torch.stack([s[:, :longest] for s in states], dim=1)
        mask = torch.arange(longest)[None, :] < frames[:, None]
        return stacked, mask


class EmotionModel(torch.nn.Module):
    """Backbone -> one layer or a softmax-weighted layer sum -> masked mean -> layer norm ->
    linear head.

    Args:
        backbone: the trainable encoder.
        num_classes: output classes.
        layer: a hidden-state index, or ``None`` for the learned weighted sum of all layers.
        dropout: dropout before the head.
        speaker_norm: subtract each speaker's mean pooled vector (needs ``batch["speaker"]``).
    """

    def __init__(
        self, *, backbone: AudioBackbone, num_classes: int, layer: int | None = None,
        dropout: float = 0.1, speaker_norm: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        states = backbone.num_layers + 1
        if layer is not None and not -states <= layer < states:
            raise ValueError(
                f"layer={layer}: the encoder gives {states} hidden states: use "
                f"0..{states - 1}, -{states}..-1, or none for the weighted layer sum"
            )
        self.backbone = backbone
        self.layer = layer
        self.num_classes = num_classes
        self.speaker_norm = speaker_norm
        self.layer_sum = WeightedLayerSum(num_layers=backbone.num_layers + 1)
        # Hidden states of pretrained encoders have large, uneven scales: normalise the pooled
        # vector before the classifier so the head learns at the same rate for any encoder.
        self.head = torch.nn.Sequential(
            torch.nn.LayerNorm(backbone.hidden_size),
            torch.nn.Dropout(dropout),
            torch.nn.Linear(backbone.hidden_size, num_classes),
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.classify(self.pool(batch), batch.get("speaker"))

    def pool(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Masked mean over frames of the chosen layer or layer mix: ``(B, D)``."""
        return self.mix(self.pool_layers(batch))

    def pool_layers(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Masked mean over frames of every hidden state: ``(B, L + 1, D)``."""
        states, mask = self.backbone(batch)
        weights = mask.to(states.dtype)[:, None, :, None]
        return (states * weights).sum(2) / weights.sum(2).clamp(min=1.0)

    def mix(self, layers: torch.Tensor) -> torch.Tensor:
        """``(B, L + 1, D) -> (B, D)``: the chosen hidden state or the learned layer sum (the
        mean of a weighted sum of frames is the weighted sum of the per-layer means)."""
        return layers[:, self.layer] if self.layer is not None else self.layer_sum(layers)

    def classify(self, pooled: torch.Tensor, speakers: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, C)`` from pooled vectors; ``speakers`` ``(B,)`` when speaker_norm."""
        if self.speaker_norm:
            if speakers is None:
                raise ValueError("this model normalises per speaker: pass the clips' speakers")
            pooled = pooled - speaker_means(pooled, speakers)
        return self.head(pooled)


def speaker_means(pooled: torch.Tensor, speakers: torch.Tensor) -> torch.Tensor:
    """Each row's speaker mean over the rows given: ``(B, D)``.

    Example:
        >>> speaker_means(torch.tensor([[1.0], [3.0], [10.0]]), torch.tensor([0, 0, 7]))
        tensor([[ 2.],
                [ 2.],
                [10.]])
    """
    _, inverse = torch.unique(speakers, return_inverse=True)
    sums = torch.zeros(int(inverse.max()) + 1, pooled.shape[1], dtype=pooled.dtype,
                       device=pooled.device).index_add_(0, inverse, pooled)  # fmt: skip
    counts = torch.bincount(inverse).to(pooled.dtype).unsqueeze(1)
    return (sums / counts)[inverse]


def build_model(
    *, model: str, num_classes: int, layer: int | None = None, whisper_input: str = "real_length",
    dropout: float = 0.1, trust_remote_code: bool = False, random_init: bool = False,
    speaker_norm: bool = False,
) -> EmotionModel:  # fmt: skip
    """Load a pretrained encoder (folder or hub id) into a fresh :class:`EmotionModel`
    (``random_init``: the same architecture with seeded random weights, no pre-training)."""
    encoder = HFEncoder(model=model, whisper_input=whisper_input,  # type: ignore[arg-type]
                        trust_remote_code=trust_remote_code, random_init=random_init)  # fmt: skip
    backbone = AudioBackbone(encoder._load())
    return EmotionModel(backbone=backbone, num_classes=num_classes, layer=layer, dropout=dropout,
                        speaker_norm=speaker_norm)  # fmt: skip
