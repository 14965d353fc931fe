"""The trainable emotion model, composed of registered parts with stated shapes:

per modality, an Encoder (``L + 1`` hidden states ``(B, L + 1, T, D)``, mask ``(B, T)``), its
layer selection or learned weighted sum (:class:`LayerMix`), a frame-level ``body`` (registry
``body``: ``(B, T, D)`` + mask -> ``(B, T', D')`` + mask; ``identity`` by default) and a
``pooling`` (registry ``pooling``: mean, mean_std, attentive); then a ``fusion`` (registry
``fusion``) that declares whether it takes pooled vectors ``{m: (B, P_m)}`` or frame
sequences with masks ``{m: ((B, T_m, D_m), (B, T_m))}``; then (speaker normalisation and)
the categorical head ``(B, C)`` and an optional dimensional head ``(B, K)``, returned as a
typed :class:`ModelOutput`.

The Trainer and the Predictor use :meth:`EmotionModel.prepare` and ``model(batch)``; the two
halves of ``forward``, :meth:`~EmotionModel.pool` (encoders up to the pooled vectors) and
:meth:`~EmotionModel.decide` (the rest), let linear probing and per-speaker normalisation
pool every clip once. Without a body and with a statistic pooling (mean, mean_std), every
hidden state is pooled first and the layer mix acts on the pooled statistics (for the mean
the same as mixing frames; what a frozen encoder's probe caches); with a body, a learned
pooling or a frame-level fusion, the layer mix acts on the frames that the body sees.

Speaker normalisation (``speaker_norm=True``): the fused vector of each clip has the mean
fused vector of its speaker's clips subtracted (speakers given as ``batch["speaker"]``, integer
ids ``(B,)``), the trained counterpart of per-speaker feature normalisation. After training,
:func:`~emotransfer.models.batched.keep_average_speaker` stores the average training speaker's
mean (buffer ``average_speaker``, saved with the weights): a clip of no declared speaker then
has it subtracted, on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from emotransfer import registry
from emotransfer.define import is_audio_view
from emotransfer.encoders.base import Encoder
from emotransfer.models.bodies import Body, IdentityBody
from emotransfer.models.feature_norm import FeatureNorm
from emotransfer.models.layers import WeightedLayerSum
from emotransfer.models.state_norm import StateNorm

FUSED = "fused"  # pool()'s key when a frame-level fusion has already fused the modalities
PRESENT = "present"  # pool()'s key of which optional inputs each clip has, (B, M): 1.0 = given
NORMS = {"layer": torch.nn.LayerNorm, "batch": FeatureNorm}  # head_norm


@dataclass
class ModelOutput:
    """Logits ``(B, C)``, the fused pooled embeddings ``(B, F)`` and, for a model with
    ``dimensions``, the dimensional predictions ``(B, K)`` (else ``None``)."""

    logits: torch.Tensor
    embeddings: torch.Tensor
    dimensions: torch.Tensor | None = None


class LayerMix(torch.nn.Module):
    """``(B, L + 1, ...) -> (B, ...)``: one hidden state, or their learned softmax-weighted sum
    (of pooled statistics ``(B, L + 1, P)`` or of frames ``(B, L + 1, T, D)`` with their
    ``(B, T)`` mask); with a :attr:`norm` (a :class:`~emotransfer.models.state_norm.StateNorm`),
    every state's features are standardised first."""

    def __init__(self, *, num_states: int, layer: int | None = None) -> None:
        super().__init__()
        self.layer = layer
        self.layer_sum = WeightedLayerSum(num_layers=num_states)
        self.norm: StateNorm | None = None

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm is not None:
            states = self.norm(states, mask)
        return states[:, self.layer] if self.layer is not None else self.layer_sum(states)


class EmotionModel(torch.nn.Module):
    """Encoders -> layer mix -> body -> pooling -> fusion -> layer norm -> dropout -> linear.

    Args:
        encoders: one trainable or frozen encoder per modality (e.g. ``{"audio": ...}``).
        num_classes: output classes ``C``.
        layer: a hidden-state index, or ``None`` for the learned weighted sum of all layers
            (an int applies to every modality; a mapping gives one per modality).
        fusion: a registered fusion name (``identity`` for one modality, ``concat``...).
        pooling: a registered pooling name (``mean``, ``mean_std``, ``attentive``).
        body: a registered frame-level body name (``identity``: none).
        body_params, pooling_params: their keyword arguments (beside ``input_size``).
        fusion_params: the fusion's keyword arguments (beside ``sizes``).
        dropout: dropout before the head.
        speaker_norm: subtract each speaker's mean fused vector (needs ``batch["speaker"]``).
        dimensions: also predict this many continuous values (arousal, valence, ...).
        missing_inputs: a clip may lack an input besides the audio (text, video; an item
            ``None``): a learned vector per such input stands in for its pooled vector
            (:attr:`optional`). Needs a fusion of pooled vectors.
        modality_dropout: while training, each clip's optional inputs are dropped (their
            stand-ins used) with this probability each, so the model learns to decide
            without them; implies ``missing_inputs``.
        head_norm: how the fused vector is normalised before the classifier: ``layer`` (each
            clip across its features) or ``batch`` (each feature across the clips: per
            feature standardisation as a frozen probe's z-score does, from the batch while
            training and from running statistics when predicting).
        mix_norm: standardise every hidden state's features before the layer mix (running
            statistics of the training values: :class:`~emotransfer.models.state_norm.StateNorm`),
            as the frozen probe standardises each layer before mixing.
        plugins: ``module:Class`` bodies, poolings and fusions the caller allows.
    """

    def __init__(
        self,
        *,
        encoders: Mapping[str, Encoder],
        num_classes: int,
        layer: int | None | Mapping[str, int | None] = None,
        fusion: str = "identity",
        pooling: str = "mean",
        body: str = "identity",
        body_params: Mapping[str, Any] | None = None,
        pooling_params: Mapping[str, Any] | None = None,
        fusion_params: Mapping[str, Any] | None = None,
        dropout: float = 0.1,
        speaker_norm: bool = False,
        dimensions: int = 0,
        missing_inputs: bool = False,
        modality_dropout: float = 0.0,
        head_norm: str = "layer",
        mix_norm: bool = False,
        plugins: Collection[str] = (),
    ) -> None:
        super().__init__()
        if head_norm not in NORMS:
            raise ValueError(f"head_norm {head_norm!r}: one of {sorted(NORMS)}")
        if not 0 <= modality_dropout < 1:
            raise ValueError(f"modality_dropout {modality_dropout}: a probability in [0, 1)")
        layers = dict(layer) if isinstance(layer, Mapping) else dict.fromkeys(encoders, layer)
        for name, encoder in encoders.items():
            encoder.check_layer(layers.get(name))
        self.encoders = torch.nn.ModuleDict(dict(encoders))
        self.num_classes = num_classes
        self.layer = layer
        self.pooling = pooling
        self.speaker_norm = speaker_norm
        self.mixes = torch.nn.ModuleDict({
            name: LayerMix(num_states=encoder.num_states, layer=layers.get(name))
            for name, encoder in encoders.items()
        })  # fmt: skip
        self.bodies = torch.nn.ModuleDict({
            name: registry.build("body", body, plugins=plugins, input_size=encoder.hidden_size,
                                 **dict(body_params or {}))
            for name, encoder in encoders.items()
        })  # fmt: skip
        self.poolings = torch.nn.ModuleDict({
            name: registry.build("pooling", pooling, plugins=plugins,
                                 input_size=self.bodies[name].output_size,
                                 **dict(pooling_params or {}))
            for name in encoders
        })  # fmt: skip
        fusion_class = registry.resolve("fusion", fusion, plugins=plugins)
        self.frame_fusion = getattr(fusion_class, "takes", "pooled") == "frames"
        sizes = {name: (self.bodies[name] if self.frame_fusion else self.poolings[name]).output_size
                 for name in encoders}  # fmt: skip
        # A deciding fusion (late fusion) gives class log-probabilities: no classifier after it.
        self.decides = bool(getattr(fusion_class, "decides", False))
        if self.decides and speaker_norm:
            raise ValueError(f"fusion {fusion!r} decides per modality; its decisions are not "
                             "normalised per speaker: use normalization global")  # fmt: skip
        classes = {"num_classes": num_classes} if self.decides else {}
        self.fusion = registry.build("fusion", fusion, plugins=plugins, sizes=sizes, **classes,
                                     **dict(fusion_params or {}))  # fmt: skip
        self.pools_per_layer = not self.frame_fusion and all(
            isinstance(self.bodies[name], IdentityBody) and self.poolings[name].statistics
            for name in encoders
        )
        if mix_norm:  # of the pooled statistics, or of the frames
            for name, encoder in encoders.items():
                size = (self.poolings[name].output_size if self.pools_per_layer
                        else encoder.hidden_size)  # fmt: skip
                self.mixes[name].norm = StateNorm(num_states=encoder.num_states, size=size)
        # Inputs a clip may lack (not the audio, nor a view of it), each with its stand-in.
        self.modality_dropout = modality_dropout
        self.optional = [name for name in encoders if name != "audio" and not is_audio_view(name)
                         ] if missing_inputs or modality_dropout else []  # fmt: skip
        if (missing_inputs or modality_dropout) and not self.optional:
            raise ValueError("missing_inputs / modality_dropout: this model has no input besides "
                             "the audio that a clip could lack")  # fmt: skip
        if self.optional and self.frame_fusion:
            raise ValueError(f"missing_inputs / modality_dropout: fusion {fusion!r} fuses frame "
                             "sequences; a missing input needs a fusion of pooled vectors "
                             "(identity, concat, late)")  # fmt: skip
        self.stand_ins = torch.nn.ParameterDict({
            name: torch.nn.Parameter(torch.zeros(sizes[name])) for name in self.optional
        })  # fmt: skip
        size = self.fusion.output_size
        if speaker_norm:  # NaN until kept after training (older runs never keep one)
            self.register_buffer("average_speaker", torch.full((size,), float("nan")))
        # Hidden states of pretrained encoders have large, uneven scales: normalise the pooled
        # vector before the classifier so the head learns at the same rate for any encoder.
        self.head = torch.nn.Sequential(
            NORMS[head_norm](size), torch.nn.Dropout(dropout), torch.nn.Linear(size, num_classes)
        ) if not self.decides else torch.nn.Sequential(torch.nn.Identity())  # fmt: skip
        self.dimension_head = None
        if dimensions:
            self.dimension_head = torch.nn.Sequential(
                torch.nn.LayerNorm(size), torch.nn.Linear(size, dimensions)
            )

    @property
    def classifier(self) -> torch.nn.Linear:
        """The layer whose outputs are the classes (its weight is ``(C, F)``)."""
        return self.head[-1]

    @property
    def sample_rate(self) -> int | None:
        """The audio encoder's rate in Hz (``None`` without audio)."""
        audio = self.encoders["audio"] if "audio" in self.encoders else None  # noqa: SIM401
        return None if audio is None else audio.sample_rate

    @property
    def item_rate(self) -> float | None:
        """Units per second of the audio items' first axis (samples; frames for cached
        states)."""
        audio = self.encoders["audio"] if "audio" in self.encoders else None  # noqa: SIM401
        return None if audio is None else audio.item_rate

    def prepare(self, items: Mapping[str, list[Any]] | list[Any]) -> dict[str, Any]:
        """CPU side: items per modality (a plain list is the audio's, or the one modality's)
        -> a batch. An audio view (``audio_<name>``) without items of its own reads the
        audio's."""
        if not isinstance(items, Mapping):
            others = [name for name in self.encoders if not is_audio_view(name)]
            if len(others) != 1:
                raise ValueError(f"this model takes {list(self.encoders)}: give a dict of items")
            items = {others[0]: items}
        if "audio" in items:
            items = {**{name: items["audio"] for name in self.encoders if is_audio_view(name)},
                     **items}  # fmt: skip
        missing = sorted(set(self.encoders) - set(items))
        if missing:
            raise ValueError(f"no items for the model's {missing} input(s)")
        items = {name: list(items[name]) for name in self.encoders}
        present = torch.ones(len(next(iter(items.values()))), len(self.optional))
        for name, given in items.items():
            absent = [row for row, item in enumerate(given) if item is None]
            if absent and name not in self.optional:
                raise ValueError(f"no {name} for clip {absent[0]}: this model needs every "
                                 "input (train it with model.params.missing_inputs: true to "
                                 "allow clips without one)")  # fmt: skip
            for row in absent:
                present[row, self.optional.index(name)] = 0.0
                given[row] = self.encoders[name].blank_item()
        batch = {name: encoder.prepare(items[name]) for name, encoder in self.encoders.items()}
        if self.optional:
            batch[PRESENT] = present
        return batch

    def forward(self, batch: dict[str, Any]) -> ModelOutput:  # type: ignore[override]
        return self.decide(self.pool(batch), batch.get("speaker"))

    def pool(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The encoders' side: ``{m: (B, L + 1, P)}`` pooled statistics of every hidden state
        when :attr:`pools_per_layer`, else ``{m: (B, P)}`` pooled body outputs, or (a
        frame-level fusion) ``{"fused": (B, F)}``."""
        frames = {}
        for name, encoder in self.encoders.items():
            output = encoder(batch[name])
            if self.pools_per_layer:
                frames[name] = self.poolings[name](output.states, output.mask)
                continue
            mixed = self.mixes[name](output.states, output.mask)  # (B, T, D)
            frames[name] = self.bodies[name](mixed, output.mask)
        if self.frame_fusion:
            return {FUSED: self.fusion(frames)}
        pooled = frames if self.pools_per_layer else {
            name: self.poolings[name](sequence[:, None], mask)[:, 0]
            for name, (sequence, mask) in frames.items()
        }  # fmt: skip
        if self.optional:
            pooled[PRESENT] = batch[PRESENT]
        return pooled

    @property
    def keeps_average_speaker(self) -> bool:
        """Whether a speaker-normalised model kept its average training speaker."""
        average = getattr(self, "average_speaker", None)
        return average is not None and bool(torch.isfinite(average).all())

    def fuse(self, pooled: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``(B, F)``: :meth:`pool`'s output through the layer mix (per-layer pooling) and the
        fusion, before speaker normalisation."""
        if FUSED in pooled:
            return pooled[FUSED]
        return self.fusion(self.fusion_inputs(pooled))

    def fusion_inputs(self, pooled: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{m: (B, P_m)}``: what a pooled-vector fusion takes, from :meth:`pool`'s output;
        a missing (or, while training, dropped) optional input's vector is its stand-in."""
        if self.pools_per_layer:
            vectors = {name: self.mixes[name](pooled[name]) for name in self.encoders}
        else:
            vectors = {name: pooled[name] for name in self.encoders}
        if not self.optional:
            return vectors
        present = pooled[PRESENT]  # (B, M)
        if self.training and self.modality_dropout:
            kept = present * (torch.rand_like(present) >= self.modality_dropout)
            if "audio" not in self.encoders:  # never drop every input of a clip
                kept = torch.where(kept.sum(1, keepdim=True) > 0, kept, present)
            present = kept
        for j, name in enumerate(self.optional):
            given = present[:, j : j + 1].to(vectors[name].dtype)
            vectors[name] = given * vectors[name] + (1 - given) * self.stand_ins[name]
        return vectors

    def decide(
        self, pooled: Mapping[str, torch.Tensor], speakers: torch.Tensor | None = None,
        reference: torch.Tensor | None = None,
    ) -> ModelOutput:  # fmt: skip
        """The rest of ``forward`` on :meth:`pool`'s output: :meth:`fuse`, speaker
        normalisation (by ``speakers``; by ``reference``, an enrolled speaker's mean fused
        vector ``(F,)``; else by the kept average speaker) and heads."""
        fused = self.fuse(pooled)
        if self.speaker_norm:
            if reference is not None:
                fused = fused - reference
            elif speakers is not None:
                fused = fused - speaker_means(fused, speakers)
            elif torch.compiler.is_exporting() or self.keeps_average_speaker:  # (checked first)
                fused = fused - self.average_speaker
            else:
                raise ValueError("this model normalises per speaker: pass the clips' speakers")
        dimensions = None if self.dimension_head is None else self.dimension_head(fused)
        return ModelOutput(self.head(fused), fused, dimensions)

    def merge(self) -> None:
        """Every body in its inference form (:meth:`~emotransfer.models.bodies.Body.merge`):
        the same outputs in eval mode; the weights then no longer load into a new model."""
        for body in self.bodies.values():
            if isinstance(body, Body):
                body.merge()

    def head_parameters(self) -> list[torch.nn.Parameter]:
        """What every strategy trains: layer mixes, bodies, poolings, fusion and heads."""
        parts = [self.mixes, self.bodies, self.poolings, self.fusion, self.head,
                 self.dimension_head, self.stand_ins]  # fmt: skip
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
