"""Inference from a trained run folder: per-class probabilities for new audio.

A fine-tuning run keeps ``model.json`` (base encoder, strategy, classes) and each fold's
trained weights as ``models/<fold>/trainable.safetensors``; the predictor rebuilds the model
for each fold (no pickle anywhere) and averages the folds' probabilities. A frozen-feature
run keeps the upstream's description and each fold's standardiser and head as
``models/<fold>/head.safetensors``; its predictor extracts features the same way (same
upstream, layer, pooling, Whisper input mode) and averages the folds' scores (an SVM fold
contributes its vote; a fold that never saw a class gives it 0).

A run folder is untrusted input (people share them), so nothing read from it can import or
run code: every component ``model.json`` names must be a registered name or a
``module:Class`` the caller allows (``plugins``), ``trust_remote_code`` always comes from the
caller, and the folder is checked against the digests the run recorded (``files.json``, see
:mod:`emotransfer.run_files`) before anything is loaded.

Usage::

    predictor = Predictor.from_run("runs/emodb_lora")
    predictor.predict_file("clip.wav")        # {"anger": 0.81, "boredom": 0.02, ...}
    results, problems = predictor.predict_paths(["a.wav", "broken.wav"])
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emotransfer import registry
from emotransfer.data.audio import AudioError, load_audio
from emotransfer.model_spec import AUDIO_DEFAULTS, SPEC, read_model_spec
from emotransfer.models.audio_model import EmotionModel
from emotransfer.models.export import ExportedHead
from emotransfer.run_files import RunFolderError, load_arrays, load_tensors, verify_model_files
from emotransfer.training.audio_fold import assemble


def _check_layer(path: Path, layer: int | None, states: int) -> None:
    if layer is not None and not -states <= layer < states:
        raise RunFolderError(
            f'{path}: "layer": {layer} is out of range: the upstream gives {states} hidden '
            f"state{'s' if states != 1 else ''} (layers 0..{states - 1}, or -{states}..-1)"
        )


class _AudioPredictor:
    """What both predictors share: decoding files with the run's limits, per-file problems.
    Subclasses set ``classes``, ``sample_rate``, ``min_duration`` and ``max_duration`` and
    implement :meth:`predict_signals`."""

    classes: list[str]
    sample_rate: int
    min_duration: float
    max_duration: float

    def predict_signals(self, waves: list[np.ndarray]) -> list[dict[str, float]]:
        raise NotImplementedError

    def predict_signal(self, wave: np.ndarray) -> dict[str, float]:
        """Probabilities for one mono waveform at ``sample_rate``."""
        return self.predict_signals([wave])[0]

    def load(self, path: str | Path) -> np.ndarray:
        """Decode a file (any rate or channel count) with the run's audio limits.

        Raises:
            AudioError: unreadable, too short, too long, silent, ... (names the file).
        """
        return load_audio(path, sample_rate=self.sample_rate, min_duration=self.min_duration,
                          max_duration=self.max_duration)  # fmt: skip

    def predict_files(self, paths: list[str | Path]) -> list[dict[str, float]]:
        """Probabilities for audio files, given together (raises on the first bad file)."""
        return self.predict_signals([self.load(p) for p in paths])

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Probabilities for an audio file (any rate or channel count)."""
        return self.predict_files([path])[0]

    def predict_paths(
        self, paths: list[str | Path]
    ) -> tuple[dict[str, dict[str, float]], list[dict[str, str]]]:
        """Decode every file first, then predict the good ones together.

        Returns:
            ``results``: probabilities per good file (keyed by ``str(path)``), and
            ``problems``: one ``{"file", "problem"}`` per file that could not be used.
        """
        waves: dict[str, np.ndarray] = {}
        problems = []
        for path in paths:
            try:
                waves[str(path)] = self.load(path)
            except AudioError as error:
                problems.append({"file": str(path), "problem": error.problem})
        if not waves:
            return {}, problems
        return dict(zip(waves, self.predict_signals(list(waves.values())))), problems


class Predictor(_AudioPredictor):
    """Averaged probabilities of one or more trained models of the same run.

    Args:
        models: models in eval mode, each trained on one fold.
        classes: class names in output order.
        sample_rate: rate audio is resampled to.
        min_duration, max_duration: accepted clip length in seconds (the run's).
    """

    def __init__(
        self, *, models: list[EmotionModel], classes: list[str], sample_rate: int,
        min_duration: float = 0.1, max_duration: float = 600.0,
    ) -> None:  # fmt: skip
        self.models = models
        self.classes = classes
        self.sample_rate = sample_rate
        self.min_duration = min_duration
        self.max_duration = max_duration

    @classmethod
    def from_run(
        cls, run_dir: str | Path, *, plugins: Collection[str] = (),
        trust_remote_code: bool = False,
    ) -> Predictor:  # fmt: skip
        """Load every fold model of a run folder (a frozen-feature run gives a
        :class:`FeaturePredictor`).

        Args:
            run_dir: the run folder (untrusted: see the module docstring).
            plugins: ``module:Class`` components that ``model.json`` may name.
            trust_remote_code: let the upstream run a hub model's own code.

        Raises:
            FileNotFoundError: the folder has no ``model.json`` or no trained fold weights.
            RunFolderError: a model file changed since the run (``files.json``), or
                ``model.json`` or a weight file is malformed or names a refused component.
        """
        folder = Path(run_dir)
        if not (folder / SPEC).is_file():
            raise FileNotFoundError(f"{folder}: no {SPEC}; Predictor loads trained run folders")
        verify_model_files(folder)
        spec = read_model_spec(folder, plugins=plugins, trust_remote_code=trust_remote_code)
        if spec.get("kind") == "frozen":
            return FeaturePredictor.from_spec(folder, spec, plugins=plugins)  # type: ignore[return-value]
        weights = sorted((folder / "models").glob("*/trainable.safetensors"))
        if not weights:
            raise FileNotFoundError(
                f"{folder}: no models/*/trainable.safetensors (run unfinished?)"
            )
        source = folder / "source" / "encoder.safetensors"
        source_state = load_tensors(source) if spec.get("source") else None
        models = [_fold_model(folder / SPEC, spec, source_state, path, plugins)
                  for path in weights]  # fmt: skip
        audio = spec["audio"]
        return cls(models=models, classes=spec["classes"], sample_rate=audio["sample_rate"],
                   min_duration=audio["min_duration"],
                   max_duration=audio["max_duration"])  # fmt: skip

    def predict_signals(self, waves: list[np.ndarray]) -> list[dict[str, float]]:
        """Probabilities for mono waveforms at ``sample_rate``. A speaker-normalised run
        (``finetune.normalization: speaker``) treats the clips given together as one speaker."""
        from emotransfer.training.trainer import predict_proba

        waves = [np.asarray(w, dtype=np.float32) for w in waves]
        speakers = None
        if any(model.speaker_norm for model in self.models):
            if len(waves) < 2:
                raise ValueError(
                    "this run normalises per speaker: give several clips of the same speaker "
                    "together (predict_files), not a single clip"
                )
            speakers = np.zeros(len(waves), dtype=np.int64)
        totals = sum(predict_proba(model, waves, 8, speakers) for model in self.models)
        totals = np.asarray(totals) / len(self.models)
        return [dict(zip(self.classes, row.tolist())) for row in totals]


def _fold_model(
    spec_path: Path, spec: dict[str, Any], source_state: dict[str, torch.Tensor] | None,
    path: Path, plugins: Collection[str],
) -> EmotionModel:  # fmt: skip
    """One fold's model: built as ``model.json`` says, then its trained weights."""
    try:
        model, _ = assemble(spec, source_state, plugins=plugins)
    except ValueError as error:  # e.g. a layer the encoder does not have: model.json's
        raise RunFolderError(f"{spec_path}: {error}") from error
    _check_layer(spec_path, spec["layer"], model.backbone.num_layers + 1)
    parameters = dict(model.named_parameters())
    state = load_tensors(path)
    unknown = [name for name in state if name not in parameters]
    if unknown:
        raise RunFolderError(f"{path}: weights do not fit the model of {spec_path}: "
                             f"{unknown[:3]}")  # fmt: skip
    outputs = state.get("head.2.weight")
    if outputs is not None and outputs.shape[0] != len(spec["classes"]):
        raise RunFolderError(
            f'{spec_path}: "classes" lists {len(spec["classes"])} classes, but {path} has '
            f"{outputs.shape[0]} outputs: give one class name per output"
        )
    for name, value in state.items():
        if value.shape != parameters[name].shape:
            raise RunFolderError(f"{path}: {name} has shape {tuple(value.shape)}, the model of "
                                 f"{spec_path} {tuple(parameters[name].shape)}")  # fmt: skip
    with torch.no_grad():
        for name, value in state.items():
            parameters[name].copy_(value)
    return model.eval()


class FeaturePredictor(_AudioPredictor):
    """Predictions of a frozen-feature run: upstream -> pooled layer -> fold heads.

    With per-speaker normalisation the statistics come from the clips given together to
    :meth:`predict_files` (treated as one speaker); a single clip cannot be normalised that
    way and is refused.

    Args:
        spec: the checked ``model.json`` (:func:`read_model_spec`).
        heads: per fold, the standardiser's mean and scale and the exported head.
        upstream: the feature extractor ``spec`` describes.
        spec_path: where ``spec`` came from (named in errors).
    """

    def __init__(
        self, *, spec: dict, heads: list[tuple[np.ndarray, np.ndarray, ExportedHead]],
        upstream: Any, spec_path: str | Path = SPEC,
    ) -> None:  # fmt: skip
        self.spec = spec
        self.heads = heads
        self.upstream = upstream
        self.spec_path = spec_path
        self.classes = spec["classes"]
        audio = {**AUDIO_DEFAULTS, "sample_rate": spec["sample_rate"], **spec.get("audio", {})}
        self.sample_rate = audio["sample_rate"]
        self.min_duration = audio["min_duration"]
        self.max_duration = audio["max_duration"]

    @classmethod
    def from_run(
        cls, run_dir: str | Path, *, plugins: Collection[str] = (),
        trust_remote_code: bool = False,
    ) -> FeaturePredictor:  # fmt: skip
        """Load a frozen-feature run folder (arguments and errors as :meth:`Predictor.from_run`)."""
        folder = Path(run_dir)
        if (folder / SPEC).is_file():
            verify_model_files(folder)
        spec = read_model_spec(folder, plugins=plugins, trust_remote_code=trust_remote_code)
        if spec.get("kind") != "frozen":
            raise RunFolderError(f"{folder / SPEC}: not a frozen-feature run; use Predictor")
        return cls.from_spec(folder, spec, plugins=plugins)

    @classmethod
    def from_spec(
        cls, folder: Path, spec: dict[str, Any], *, plugins: Collection[str] = ()
    ) -> FeaturePredictor:
        """The predictor of a checked ``spec`` (:func:`read_model_spec`) and the fold heads
        of ``folder``."""
        paths = sorted((folder / "models").glob("*/head.safetensors"))
        if not paths:
            raise FileNotFoundError(f"{folder}: no models/*/head.safetensors (run unfinished?)")
        heads = [_fold_head(path) for path in paths]
        _check_classes(folder / SPEC, spec["classes"], paths, [head for *_, head in heads])
        try:
            upstream = registry.build("upstream", spec["upstream"], plugins=plugins,
                                      sample_rate=spec["sample_rate"],
                                      **spec["params"])  # fmt: skip
        except TypeError as error:
            raise RunFolderError(f'{folder / SPEC}: "params": {error}') from error
        return cls(spec=spec, heads=heads, upstream=upstream, spec_path=folder / SPEC)

    def _features(self, waves: list[np.ndarray]) -> np.ndarray:
        from emotransfer.features.extract import frame_statistics
        from emotransfer.models.normalize import speaker_standardize
        from emotransfer.models.pooling import pool_statistics

        spec = self.spec
        pooled = [pool_statistics(frame_statistics(self.upstream.extract(w)), spec["pooling"])
                  for w in waves]  # fmt: skip
        _check_layer(Path(self.spec_path), spec["layer"], len(pooled[0]))
        features = np.stack([states[spec["layer"]] for states in pooled]).astype(np.float64)
        inputs = len(self.heads[0][0])
        if features.shape[1] != inputs:
            raise RunFolderError(
                f'{self.spec_path}: "upstream", "params" and "pooling" give '
                f"{features.shape[1]} features, but the fold heads take {inputs}"
            )
        if spec["normalization"] in ("speaker", "corpus"):
            group = spec["normalization"]
            if len(waves) < 2:
                raise ValueError(
                    f"this run normalises features per {group}: give several clips of the same "
                    f"{group} together (predict_files), not a single clip"
                )
            features = speaker_standardize(features, np.zeros(len(waves)))
        return features

    def predict_signals(self, waves: list[np.ndarray]) -> list[dict[str, float]]:
        """Probabilities for mono waveforms at ``sample_rate``: the mean over the folds."""
        features = self._features([np.asarray(w, dtype=np.float32) for w in waves])
        totals = np.zeros((len(waves), len(self.classes)))
        for mean, scale, head in self.heads:
            totals += head.class_probabilities((features - mean) / scale, len(self.classes))
        totals /= len(self.heads)
        return [dict(zip(self.classes, row.tolist())) for row in totals]


def _fold_head(path: Path) -> tuple[np.ndarray, np.ndarray, ExportedHead]:
    """A fold's standardiser and head from its ``head.safetensors``, checked."""
    arrays = load_arrays(path)
    try:
        mean, scale = arrays["scaler.mean"], arrays["scaler.scale"]
        head = ExportedHead({k[5:]: v for k, v in arrays.items() if k.startswith("head.")})
        head.check()
    except KeyError as error:
        raise RunFolderError(f"{path}: not a fold head: no array {error}") from error
    except (ValueError, IndexError) as error:
        raise RunFolderError(f"{path}: not a fold head: {error}") from error
    if mean.ndim != 1 or mean.shape != scale.shape or len(mean) != head.input_size():
        raise RunFolderError(f"{path}: scaler.mean {mean.shape}, scaler.scale {scale.shape} and "
                             f"the head's {head.input_size()} inputs differ")  # fmt: skip
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise RunFolderError(f"{path}: scaler.scale must be finite and positive, and "
                             "scaler.mean finite (an edited scaler?)")  # fmt: skip
    return mean, scale, head


def _check_classes(
    spec_path: Path, classes: list[str], paths: list[Path], heads: list[ExportedHead]
) -> None:
    """Each head's outputs are classes of the run, and together they cover every class (a
    fold may lack a class its training clips did not have)."""
    covered: set[int] = set()
    for path, head in zip(paths, heads):
        indices = head.class_indices()
        if len(set(indices.tolist())) != len(indices) or (
            len(indices) and not 0 <= indices.min() <= indices.max() < len(classes)
        ):
            raise RunFolderError(
                f'{spec_path}: "classes" lists {len(classes)} classes, but {path} has outputs '
                f"for class indices {indices.tolist()}: give one name per class of the run"
            )
        covered |= set(indices.tolist())
    if len(covered) != len(classes):
        raise RunFolderError(
            f'{spec_path}: "classes" lists {len(classes)} classes, but the fold heads have '
            f"outputs for {len(covered)} (class indices {sorted(covered)})"
        )
