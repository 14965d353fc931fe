"""A run's servable model as one torch graph of one clip, ready for ONNX export: the encoder's
exportable inputs (:meth:`~emotransfer.encoders.base.Encoder.export_inputs`: Whisper's log-mel
frames of the clip, a waveform, or the frames of a numpy upstream) in, the class probabilities
``(1, C)`` out (and, for a model with a dimensional head, its values ``(1, K)``).

* :class:`FrozenGraph`: a frozen-feature run. The upstream's hidden states are pooled per state
  as extraction pools them (mean, std, mean_std over frames), standardised with the average
  training speaker (a per-speaker normalised run; what a clip of no declared speaker gets from
  the Predictor), then every served head's calibrated probabilities in the run's class columns
  (:meth:`~emotransfer.models.export_kinds.HeadArrays.torch_probabilities`), averaged.
* :class:`TrainedGraph`: a trained run's models (re-parameterised bodies and LoRA merged into
  the weights), the mean of ``softmax(logits / temperature)``.

What the graph leaves to Python is the encoder's ``prepare`` (Whisper's log-mel, an openSMILE
or numpy upstream): the exported model is the network, as for transformers' own ONNX exports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emotransfer.define import Normalization, Pooling
from emotransfer.encoders.base import Encoder
from emotransfer.encoders.upstream import UpstreamEncoder
from emotransfer.io import RunFolderError
from emotransfer.model_spec import FrozenSpec
from emotransfer.models.export import KINDS, ExportedHead
from emotransfer.transfer.merge import merged_copy

PROBABILITIES = "probabilities"
DIMENSIONS = "dimensions"


class FrozenGraph(torch.nn.Module):
    """One clip's encoder inputs -> ``(1, C)`` probabilities of a frozen-feature run.

    Args:
        encoder: the upstream as an encoder (its ``forward`` takes ``names``' tensors).
        names: the encoder inputs, in the order ``forward`` takes them.
        pooling: ``mean``, ``std`` or ``mean_std`` over frames (an utterance-level upstream,
            ``utterance=True``, gives its one frame).
        layer: the hidden state the heads take, or ``None`` for all of them ``(L + 1, D)``.
        statistics: the average training speaker's mean and scale ``(L + 1, D)``, or ``None``.
        heads: per served head, its standardiser's mean and scale and the exported head.
        num_classes: the run's class count ``C``.
    """

    def __init__(
        self, *, encoder: Encoder, names: list[str], pooling: str, layer: int | None,
        statistics: tuple[np.ndarray, np.ndarray] | None,
        heads: list[tuple[np.ndarray, np.ndarray, ExportedHead]], num_classes: int,
        utterance: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        Pooling.validate(pooling)
        self.encoder = encoder.eval()
        self.names = names
        self.pooling = pooling
        self.layer = layer
        self.utterance = utterance
        self.statistics = None if statistics is None else tuple(
            torch.as_tensor(np.asarray(s, dtype=np.float32)) for s in statistics)  # fmt: skip
        self.heads = [(torch.as_tensor(np.asarray(mean, dtype=np.float32)),
                       torch.as_tensor(np.asarray(scale, dtype=np.float32)),
                       KINDS[head.kind()](head.arrays), _placement(head, num_classes))
                      for mean, scale, head in heads]  # fmt: skip

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        pooled = self.pooled(*inputs)
        if self.statistics is not None:
            pooled = (pooled - self.statistics[0]) / self.statistics[1]
        features = (pooled if self.layer is None else pooled[self.layer])[None]
        total = 0.0
        for mean, scale, head, placement in self.heads:
            total = total + head.torch_probabilities((features - mean) / scale) @ placement
        return total / len(self.heads)

    def pooled(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``(L + 1, D')``: every hidden state pooled over the clip's frames, before any
        standardisation (what the feature cache holds for a clip)."""
        output = self.encoder(dict(zip(self.names, inputs)))
        states, real = output.states[0], output.mask[0, None, :, None].to(output.states.dtype)
        count = real.sum(dim=1)  # the clip's frames (a padded Whisper input has more)
        mean = (states * real).sum(dim=1) / count  # (L + 1, D)
        if self.utterance or self.pooling == Pooling.MEAN:
            pooled = mean
        else:
            std = ((((states - mean[:, None]) * real) ** 2).sum(dim=1) / count).sqrt()
            pooled = std if self.pooling == Pooling.STD else torch.cat([mean, std], dim=-1)
        return pooled


def _placement(head: ExportedHead, num_classes: int) -> torch.Tensor:
    """``(outputs, C)``: one-hot rows putting a head's outputs in the run's class columns (a
    class the fold never saw stays 0)."""
    indices = head.class_indices()
    placement = torch.zeros(len(indices), num_classes)
    placement[torch.arange(len(indices)), torch.as_tensor(indices)] = 1.0
    return placement


class TrainedGraph(torch.nn.Module):
    """One clip's audio encoder inputs -> the trained models' mean probabilities ``(1, C)``
    (and mean dimensional values ``(1, K)`` where the models have a dimensional head).

    Args:
        models: the served :class:`~emotransfer.models.emotion_model.EmotionModel` s, merged.
        names: the audio encoder's inputs, in the order ``forward`` takes them.
        temperature: the run's calibration temperature.
    """

    def __init__(self, *, models: list[Any], names: list[str], temperature: float = 1.0) -> None:
        super().__init__()
        self.models = torch.nn.ModuleList(models).eval()
        self.names = names
        self.temperature = temperature
        self.dimensions = all(getattr(m, "dimension_head", None) is not None for m in models)

    def forward(self, *inputs: torch.Tensor) -> Any:
        batch = {"audio": dict(zip(self.names, inputs))}
        outputs = [model(batch) for model in self.models]
        probabilities = sum(torch.softmax(o.logits / self.temperature, dim=1) for o in outputs)
        probabilities = probabilities / len(outputs)
        if not self.dimensions:
            return probabilities
        return probabilities, sum(o.dimensions for o in outputs) / len(outputs)


def frozen_encoder(spec: FrozenSpec, *, trust_remote_code: bool = False) -> Encoder:
    """The upstream of a frozen run as an exportable encoder: a transformers upstream as the
    trainable encoder of the same model (float32), any other as the frames its ``prepare``
    computes in Python."""
    if spec.upstream != "hf":
        return UpstreamEncoder(upstream=spec.upstream, params=spec.params,
                               sample_rate=spec.sample_rate)  # fmt: skip
    from emotransfer.encoders.hf_audio import HFAudioEncoder

    params = spec.params
    return HFAudioEncoder(model=params["model"],
                          whisper_input=params.get("whisper_input", "real_length"),
                          sample_rate=spec.sample_rate, revision=params.get("revision"),
                          trust_remote_code=trust_remote_code,
                          random_init=bool(params.get("random_init", False)))  # fmt: skip


def graph_of(scorer: Any, spec: Any, encoder: Encoder, names: list[str]) -> torch.nn.Module:
    """The graph of a Predictor's scorer (see :mod:`emotransfer.inference.scorers`).

    Raises:
        RunFolderError: a run the graph cannot serve clip by clip (per-speaker normalisation
            inside a trained model; a frozen run without its average speaker; other inputs).
    """
    if isinstance(spec, FrozenSpec):
        statistics = None
        if spec.normalization in (Normalization.SPEAKER, Normalization.CORPUS):
            statistics = scorer.speaker_stats
            if statistics is None:
                raise RunFolderError("this run normalises per speaker and kept no average "
                                     "training speaker (a run before speaker_stats): rerun it "
                                     "to export")  # fmt: skip
        return FrozenGraph(encoder=encoder, names=names, pooling=spec.pooling, layer=spec.layer,
                           statistics=statistics, heads=scorer.heads,
                           num_classes=len(spec.classes),
                           utterance=float(encoder.frame_rate) == 0.0)  # fmt: skip
    modalities = list(getattr(scorer.models[0], "encoders", None) or ["audio"])
    if modalities != ["audio"]:
        raise RunFolderError(f"this run's model takes {modalities}: ONNX export serves models "
                             "of one audio encoder")  # fmt: skip
    if scorer.speaker_norm and not scorer.keeps_average_speaker:
        raise RunFolderError("this run's model normalises per speaker inside itself and kept no "
                             "average training speaker (a run before it did), so one clip has "
                             "no graph: rerun it to export")  # fmt: skip
    models = [merged_copy(model) for model in scorer.models]  # LoRA in the weights
    return TrainedGraph(models=models, names=names, temperature=scorer.temperature)
