"""Fold scorers: waveforms in, class probabilities ``(N, C)`` averaged over the run's folds.

:class:`ModelScorer` runs trained :class:`~emotransfer.models.emotion_model.EmotionModel`
folds; :class:`FeatureScorer` runs a frozen upstream once (an
:class:`~emotransfer.encoders.upstream.UpstreamEncoder`, built once and reused across calls)
and every fold's standardiser and exported head on its pooled layer.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from emotransfer.io import RunFolderError
from emotransfer.model_spec import FrozenSpec
from emotransfer.models.batched import predict_outputs, softmax, speaker_mean
from emotransfer.models.export import ExportedHead


class ModelScorer:
    """The mean probabilities of trained fold models (each in eval mode).

    Args:
        inputs: the modalities the models take besides audio (text ...), whose items
            :meth:`scores` needs.
        temperature: each model's probabilities are ``softmax(logits / temperature)``.
        dimensions: what the models' dimensional heads predict (arousal ...), whose mean
            values follow the class probabilities in :meth:`scores`.
    """

    def __init__(
        self, *, models: list[Any], classes: list[str], inputs: Collection[str] = (),
        temperature: float = 1.0, dimensions: Collection[str] = (),
    ) -> None:  # fmt: skip
        self.models = models
        self.classes = classes
        self.inputs = tuple(inputs)
        self.temperature = temperature
        self.dimensions = tuple(dimensions)

    @property
    def speaker_norm(self) -> bool:
        return any(getattr(model, "speaker_norm", False) for model in self.models)

    @property
    def optional(self) -> tuple[str, ...]:
        """The inputs a clip may lack (models trained with ``missing_inputs``)."""
        return tuple(name for name in self.inputs
                     if all(name in getattr(m, "optional", ()) for m in self.models))  # fmt: skip

    @property
    def keeps_average_speaker(self) -> bool:
        """Whether every speaker-normalised model kept its average training speaker (a clip
        of no declared speaker is normalised by it, on its own); a run from before did not
        (the clips of a call are one speaker)."""
        return all(getattr(m, "keeps_average_speaker", False) for m in self.models)

    def scores(
        self, waves: list[np.ndarray], inputs: dict[str, list] | None = None,
        speakers: np.ndarray | None = None, enrolled: Any = None,
    ) -> np.ndarray:  # fmt: skip
        """``(N, C)`` for the clips ``waves`` and, per other input, their items (then, for a
        run of :attr:`dimensions`, their ``K`` mean values: ``(N, C + K)``); a
        speaker-normalised model normalises per ``speakers``, by an ``enrolled`` speaker's
        mean fused vectors (``(mean (M, F), scale)``, one row per served model: see
        :meth:`speaker_means`), else by its kept average speaker (an older model: the call's
        clips as one speaker).

        Raises:
            ValueError: enrolled means of another shape than the models' fused vectors.
        """
        references: list[Any] = [None] * len(self.models)
        if enrolled is not None:
            means = np.asarray(enrolled[0])
            sizes = [m.fusion.output_size for m in self.models]
            if means.shape != (len(self.models), sizes[0]) or len(set(sizes)) != 1:
                raise ValueError(f"enrolled means of shape {means.shape}, the run serves "
                                 f"{len(self.models)} models of {sizes[0]} fused values: "
                                 "enrolled with another run?")  # fmt: skip
            references = list(means)
        items: Any = waves
        if self.inputs:
            items = {"audio": waves, **_items_of(self.inputs, inputs or {}, len(waves),
                                                 optional=self.optional)}  # fmt: skip
        if (
            self.speaker_norm
            and enrolled is None
            and (speakers is not None or not self.keeps_average_speaker)
        ):
            groups = np.zeros(len(waves)) if speakers is None else np.asarray(speakers)
            speakers = np.unique(groups, return_inverse=True)[1].astype(np.int64)
        else:  # no normalisation, or each clip by the kept average speaker
            speakers = None
        totals = 0.0
        for model, reference in zip(self.models, references):
            logits, values = predict_outputs(model, items, 8, speakers, reference)
            scores = softmax(logits, self.temperature)
            if self.dimensions:
                if values is None or values.shape[1] != len(self.dimensions):
                    raise RunFolderError(f"the run declares dimensions {list(self.dimensions)}"
                                         ", but a served model has no such head")  # fmt: skip
                scores = np.concatenate([scores, values], axis=1)
            totals = totals + scores
        return np.asarray(totals) / len(self.models)

    def speaker_means(self, waves: list[np.ndarray]) -> np.ndarray:
        """``(M, F)``: per served model, the mean fused vector of one speaker's clips (what
        enrolment saves for a trained run).

        Raises:
            ValueError: a model of several inputs (enrolment takes audio alone).
        """
        if self.inputs:
            raise ValueError(f"this run's model takes audio and {list(self.inputs)}: enrolment "
                             "takes a speaker's audio alone")  # fmt: skip
        return np.stack([speaker_mean(model, waves, 8) for model in self.models])


def _items_of(
    wanted: tuple[str, ...], inputs: dict[str, list], rows: int, *, optional: Collection[str] = ()
) -> dict[str, list]:  # fmt: skip
    """The items of the ``wanted`` inputs, one per clip; an ``optional`` input not given, or
    given as ``None`` or blank text, is missing for that clip (``None``).

    Raises:
        ValueError: an input is missing, unknown to the run, or has another count.
    """
    inputs = {**{name: [None] * rows for name in optional}, **inputs}
    for name in optional:
        inputs[name] = [None if isinstance(item, str) and not item.strip() else item
                        for item in inputs[name]]  # fmt: skip
    missing = [name for name in wanted if name not in inputs]
    unknown = sorted(set(inputs) - set(wanted))
    if missing or unknown:
        raise ValueError(f"this run's model takes audio{''.join(', ' + w for w in wanted)}: "
                         f"give inputs={{{', '.join(repr(w) + ': [...]' for w in wanted)}}} "
                         f"(missing {missing}, unknown {unknown})")  # fmt: skip
    for name in wanted:
        if len(inputs[name]) != rows:
            raise ValueError(f"inputs[{name!r}] has {len(inputs[name])} items for {rows} clips")
    return {name: list(inputs[name]) for name in wanted}


class FeatureScorer:
    """A frozen upstream's pooled layer, scored by each fold's head: its calibrated
    probabilities (an SVM head exported without a temperature, by a run before calibration,
    contributes its vote; a fold that never saw a class gives it 0).

    Args:
        spec: the run's checked spec.
        heads: per fold, the standardiser's mean and scale and the exported head.
        encoder: the upstream, built once.
        spec_path: where ``spec`` came from (named in errors).
        speaker_stats: a per-speaker normalised run's average training speaker (mean and
            scale, ``(L + 1, D)``): clips of no declared speaker are standardised with them,
            each on its own.
    """

    def __init__(
        self, *, spec: FrozenSpec, heads: list[tuple[np.ndarray, np.ndarray, ExportedHead]],
        encoder: Any, spec_path: str | Path,
        speaker_stats: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:  # fmt: skip
        self.spec = spec
        self.heads = heads
        self.encoder = encoder
        self.spec_path = spec_path
        self.classes = spec.classes
        self.speaker_stats = speaker_stats

    @property
    def speaker_norm(self) -> bool:
        return self.spec.normalization in ("speaker", "corpus")

    @property
    def keeps_average_speaker(self) -> bool:
        """Whether the run saved its average training speaker (:attr:`speaker_stats`)."""
        return self.speaker_stats is not None

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions every fold head also predicts (a multitask head's: arousal ...),
        whose values follow the class probabilities in :meth:`scores`."""
        names = [tuple(head.value_names()) for _, _, head in self.heads]
        return names[0] if names and all(n == names[0] for n in names) else ()

    def pooled(self, waves: list[np.ndarray]) -> np.ndarray:
        """``(N, L + 1, D)``: every hidden state's pooled statistics, before normalisation."""
        from emotransfer.features.runners import frame_statistics
        from emotransfer.models.pooling import pool_statistics

        pooled = [pool_statistics(frame_statistics(states), self.spec.pooling)
                  for states in self.encoder.extract(waves)]  # fmt: skip
        return np.stack([np.stack(states) for states in pooled]).astype(np.float64)

    def features(
        self, waves: list[np.ndarray], speakers: np.ndarray | None = None,
        enrolled: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """The heads' inputs: the run's layer (or every one), standardised per declared
        speaker, by ``enrolled`` statistics (mean, scale ``(L + 1, D)``), or by the average
        training speaker's, as the run's normalisation asks."""
        from emotransfer.models.normalize import speaker_standardize

        spec = self.spec
        pooled = self.pooled(waves)
        states = pooled.shape[1]
        if spec.layer is not None and not -states <= spec.layer < states:
            raise RunFolderError(
                f'{self.spec_path}: "layer": {spec.layer} is out of range: the upstream gives '
                f"{states} hidden state{'s' if states != 1 else ''} (layers 0..{states - 1}, "
                f"or -{states}..-1)"
            )
        pick = slice(None) if spec.layer is None else spec.layer  # None: a head mixes them
        features = pooled[:, pick]
        inputs = self.heads[0][0].shape
        if features.shape[1:] != inputs:
            raise RunFolderError(
                f'{self.spec_path}: "upstream", "params", "layer" and "pooling" give features '
                f"of shape {features.shape[1:]}, but the fold heads take {inputs}"
            )
        stats = enrolled if enrolled is not None else (
            self.speaker_stats if speakers is None else None)  # fmt: skip
        if self.speaker_norm and stats is not None:
            if stats[0].shape != pooled.shape[1:]:
                raise ValueError(f"speaker statistics of shape {stats[0].shape}, features of "
                                 f"{pooled.shape[1:]}: enrolled with another run?")  # fmt: skip
            features = (features - stats[0][pick]) / stats[1][pick]  # every clip on its own
        elif self.speaker_norm:
            groups = np.zeros(len(waves)) if speakers is None else np.asarray(speakers)
            features = speaker_standardize(features, groups)
        return features

    def scores(
        self, waves: list[np.ndarray], inputs: dict[str, list] | None = None,
        speakers: np.ndarray | None = None, enrolled: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:  # fmt: skip
        """``(N, C)`` class probabilities, the mean over the fold heads, then (a run whose
        heads predict :attr:`dimensions`) their ``K`` mean values: ``(N, C + K)``."""
        if inputs:
            raise ValueError(f"a frozen-feature run takes audio only, not {sorted(inputs)}")
        features = self.features(waves, speakers, enrolled)
        classes, dimensions = len(self.classes), len(self.dimensions)
        totals = np.zeros((len(waves), classes + dimensions))
        for mean, scale, head in self.heads:
            standardised = (features - mean) / scale
            totals[:, :classes] += head.class_probabilities(standardised, classes)
            if dimensions:
                totals[:, classes:] += head.values(standardised)
        return totals / len(self.heads)
