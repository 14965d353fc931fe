"""The trainable emotion model: ``{modality: Encoder}`` -> per-layer pooling -> layer mix ->
fusion -> (speaker normalisation) -> head, returning a typed :class:`ModelOutput`.

The Trainer and the Predictor use only :meth:`EmotionModel.prepare` and ``model(batch)``
(plus :meth:`~EmotionModel.pool` / :meth:`~EmotionModel.decide`, the two halves of
``forward``, for linear probing on pooled states); sample rates come from the encoders.

Shapes: ``prepare(items)`` -> ``{modality: encoder batch, ...}``; each encoder's states
``(B, L + 1, T, D)`` and mask ``(B, T)``; :meth:`pool` -> ``{modality: (B, L + 1, D)}``
(masked mean over frames of every hidden state); the layer mix -> ``(B, D)``; fusion ->
``(B, F)``; logits ``(B, C)``; dimensional predictions ``(B, K)``.

Speaker normalisation (``speaker_norm=True``): the fused vector of each clip has the mean
fused vector of its speaker's clips subtracted (speakers given as ``batch["speaker"]``, integer
ids ``(B,)``), the trained counterpart of per-speaker feature normalisation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from emotransfer import registry
from emotransfer.encoders.base import Encoder
from emotransfer.models.layers import WeightedLayerSum

POOLINGS = ("mean", "mean_std")


@dataclass
class ModelOutput:
    """Logits ``(B, C)``, the fused pooled embeddings ``(B, F)`` and, for a model with
    ``dimensions``, the dimensional predictions ``(B, K)`` (else ``None``)."""

    logits: torch.Tensor
    embeddings: torch.Tensor
    dimensions: torch.Tensor | None = None


class LayerMix(torch.nn.Module):
    """``(B, L + 1, D) -> (B, D)``: one hidden state, or their learned softmax-weighted sum
    (the mean of a weighted sum of frames is the weighted sum of the per-layer means)."""

    def __init__(self, *, num_states: int, layer: int | None = None) -> None:
        super().__init__()
        self.layer = layer
        self.layer_sum = WeightedLayerSum(num_layers=num_states)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return pooled[:, self.layer] if self.layer is not None else self.layer_sum(pooled)


class EmotionModel(torch.nn.Module):
    """Encoders -> masked pooling -> layer mix -> fusion -> layer norm -> dropout -> linear.

    Args:
        encoders: one trainable or frozen encoder per modality (e.g. ``{"audio": ...}``).
        num_classes: output classes ``C``.
        layer: a hidden-state index, or ``None`` for the learned weighted sum of all layers
            (an int applies to every modality; a mapping gives one per modality).
        fusion: a registered fusion name (``identity`` for one modality, ``concat``...).
        pooling: ``"mean"`` or ``"mean_std"`` (mean and standard deviation over frames).
        dropout: dropout before the head.
        speaker_norm: subtract each speaker's mean fused vector (needs ``batch["speaker"]``).
        dimensions: also predict this many continuous values (arousal, valence, ...).
        plugins: ``module:Class`` fusions the caller allows.
    """

    def __init__(
        self,
        *,
        encoders: Mapping[str, Encoder],
        num_classes: int,
        layer: int | None | Mapping[str, int | None] = None,
        fusion: str = "identity",
        pooling: str = "mean",
        dropout: float = 0.1,
        speaker_norm: bool = False,
        dimensions: int = 0,
        plugins: Collection[str] = (),
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r}; known: {', '.join(POOLINGS)}")
        layers = dict(layer) if isinstance(layer, Mapping) else dict.fromkeys(encoders, layer)
        for name, encoder in encoders.items():
            encoder.check_layer(layers.get(name))
        self.encoders = torch.nn.ModuleDict(dict(encoders))
        self.num_classes = num_classes
        self.layer = layer
        self.pooling = pooling
        self.speaker_norm = speaker_norm
        self.mixes = torch.nn.ModuleDict(
            {
                name: LayerMix(num_states=encoder.num_states, layer=layers.get(name))
                for name, encoder in encoders.items()
            }  # fmt: skip
        )
        width = 2 if pooling == "mean_std" else 1
        sizes = {name: width * encoder.hidden_size for name, encoder in encoders.items()}
        self.fusion = registry.build("fusion", fusion, plugins=plugins, sizes=sizes)
        size = self.fusion.output_size
        # Hidden states of pretrained encoders have large, uneven scales: normalise the pooled
        # vector before the classifier so the head learns at the same rate for any encoder.
        self.head = torch.nn.Sequential(
            torch.nn.LayerNorm(size), torch.nn.Dropout(dropout), torch.nn.Linear(size, num_classes)
        )
        self.dimension_head = None
        if dimensions:
            self.dimension_head = torch.nn.Sequential(
                torch.nn.LayerNorm(size), torch.nn.Linear(size, dimensions)
            )

    @property
    def sample_rate(self) -> int | None:
        """The audio encoder's rate in Hz (``None`` without audio)."""
        audio = self.encoders["audio"] if "audio" in self.encoders else None  # noqa: SIM401
        return None if audio is None else audio.sample_rate

    def prepare(self, items: Mapping[str, list[Any]] | list[Any]) -> dict[str, Any]:
        """CPU side: items per modality (a plain list is the one modality's) -> a batch."""
        if not isinstance(items, Mapping):
            if len(self.encoders) != 1:
                raise ValueError(f"this model takes {list(self.encoders)}: give a dict of items")
            items = {next(iter(self.encoders)): items}
        missing = sorted(set(self.encoders) - set(items))
        if missing:
            raise ValueError(f"no items for the model's {missing} input(s)")
        return {name: encoder.prepare(list(items[name])) for name, encoder in self.encoders.items()}

    def forward(self, batch: dict[str, Any]) -> ModelOutput:  # type: ignore[override]
        return self.decide(self.pool(batch), batch.get("speaker"))

    def pool(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Masked mean (and std) over frames of every hidden state: ``{m: (B, L + 1, D)}``."""
        pooled = {}
        for name, encoder in self.encoders.items():
            output = encoder(batch[name])
            states = output.states
            weights = output.mask.to(states.dtype)[:, None, :, None]
            count = weights.sum(2).clamp(min=1.0)
            mean = (states * weights).sum(2) / count
            if self.pooling == "mean_std":
                spread = ((states - mean[:, :, None]) ** 2 * weights).sum(2) / count
                mean = torch.cat([mean, spread.clamp(min=1e-10).sqrt()], dim=-1)
            pooled[name] = mean
        return pooled

    def decide(
        self, pooled: Mapping[str, torch.Tensor], speakers: torch.Tensor | None = None
    ) -> ModelOutput:
        """Layer mix, fusion, speaker normalisation and heads on pooled states."""
        fused = self.fusion({name: self.mixes[name](pooled[name]) for name in self.encoders})
        if self.speaker_norm:
            if speakers is None:
                raise ValueError("this model normalises per speaker: pass the clips' speakers")
            fused = fused - speaker_means(fused, speakers)
        dimensions = None if self.dimension_head is None else self.dimension_head(fused)
        return ModelOutput(self.head(fused), fused, dimensions)

    def head_parameters(self) -> list[torch.nn.Parameter]:
        """What every strategy trains: layer mixes, fusion and heads."""
        parts = [self.mixes, self.fusion, self.head, self.dimension_head]
        return [p for part in parts if part is not None for p in part.parameters()]


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


def to_device(batch: Any, device: torch.device | str) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: to_device(value, device) for key, value in batch.items()}
    return batch
