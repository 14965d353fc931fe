"""Inference from a trained run folder: per-class probabilities for new audio.

A fine-tuning run keeps ``model.json`` (base encoder, strategy, classes) and each fold's
trained weights as ``models/<fold>/trainable.safetensors``; the predictor rebuilds the model
for each fold (no pickle anywhere) and averages the folds' probabilities. A frozen-feature
run keeps the upstream's description and each fold's standardiser and head as
``models/<fold>/head.safetensors``; its predictor extracts features the same way (same
upstream, layer, pooling, Whisper input mode) and averages the folds' scores (an SVM fold
contributes its vote).

Usage::

    predictor = Predictor.from_run("runs/emodb_lora")
    predictor.predict_file("clip.wav")        # {"anger": 0.81, "boredom": 0.02, ...}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from emotransfer.data.audio import load_audio
from emotransfer.models.audio_model import EmotionModel
from emotransfer.training.audio_fold import assemble


class Predictor:
    """Averaged probabilities of one or more trained models of the same run.

    Args:
        models: models in eval mode, each trained on one fold.
        classes: class names in output order.
        sample_rate: rate audio is resampled to.
    """

    def __init__(self, *, models: list[EmotionModel], classes: list[str], sample_rate: int) -> None:
        self.models = models
        self.classes = classes
        self.sample_rate = sample_rate

    @classmethod
    def from_run(cls, run_dir: str | Path) -> Predictor:
        """Load every fold model of a fine-tuning run folder.

        Raises:
            FileNotFoundError: the folder has no ``model.json`` or no trained fold weights.
        """
        folder = Path(run_dir)
        spec_path = folder / "model.json"
        if not spec_path.is_file():
            raise FileNotFoundError(
                f"{folder}: no model.json; Predictor loads runs trained with a finetune section"
            )
        spec = json.loads(spec_path.read_text())
        if spec.get("kind") == "frozen":
            return FeaturePredictor.from_run(folder)  # type: ignore[return-value]
        weights = sorted((folder / "models").glob("*/trainable.safetensors"))
        if not weights:
            raise FileNotFoundError(
                f"{folder}: no models/*/trainable.safetensors (run unfinished?)"
            )
        source = folder / "source" / "encoder.safetensors"
        source_state = load_file(str(source)) if spec.get("source") else None
        models = []
        for path in weights:
            model, _ = assemble(spec, source_state)
            parameters = dict(model.named_parameters())
            state = load_file(str(path))
            unknown = [name for name in state if name not in parameters]
            if unknown:
                raise ValueError(f"{path}: weights do not fit the model: {unknown[:3]}")
            with torch.no_grad():
                for name, value in state.items():
                    parameters[name].copy_(value)
            models.append(model.eval())
        return cls(models=models, classes=spec["classes"], sample_rate=spec["sample_rate"])

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

    def predict_signal(self, wave: np.ndarray) -> dict[str, float]:
        """Probabilities for one mono waveform at ``sample_rate``."""
        return self.predict_signals([wave])[0]

    def predict_files(self, paths: list[str | Path]) -> list[dict[str, float]]:
        """Probabilities for audio files (any rate or channel count), given together."""
        return self.predict_signals([load_audio(p, sample_rate=self.sample_rate) for p in paths])

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Probabilities for an audio file (any rate or channel count)."""
        return self.predict_files([path])[0]


class FeaturePredictor:
    """Predictions of a frozen-feature run: upstream -> pooled layer -> fold heads.

    With per-speaker normalisation the statistics come from the clips given together to
    :meth:`predict_files` (treated as one speaker); a single clip cannot be normalised that
    way and is refused.
    """

    def __init__(self, *, spec: dict, heads: list[tuple[np.ndarray, np.ndarray, object]]) -> None:
        self.spec = spec
        self.heads = heads
        self.classes = spec["classes"]
        self.sample_rate = spec["sample_rate"]

    @classmethod
    def from_run(cls, run_dir: str | Path) -> FeaturePredictor:
        from safetensors.numpy import load_file as load_arrays

        from emotransfer.models.export import ExportedHead

        folder = Path(run_dir)
        spec = json.loads((folder / "model.json").read_text())
        paths = sorted((folder / "models").glob("*/head.safetensors"))
        if not paths:
            raise FileNotFoundError(f"{folder}: no models/*/head.safetensors (run unfinished?)")
        heads = []
        for path in paths:
            arrays = load_arrays(str(path))
            head = ExportedHead({k[5:]: v for k, v in arrays.items() if k.startswith("head.")})
            heads.append((arrays["scaler.mean"], arrays["scaler.scale"], head))
        return cls(spec=spec, heads=heads)

    def _features(self, waves: list[np.ndarray]) -> np.ndarray:
        from emotransfer import registry
        from emotransfer.features.extract import frame_statistics
        from emotransfer.models.normalize import speaker_standardize
        from emotransfer.models.pooling import pool_statistics

        spec = self.spec
        upstream = registry.build("upstream", spec["upstream"], sample_rate=self.sample_rate,
                                  **spec["params"])  # fmt: skip
        rows = [pool_statistics(frame_statistics(upstream.extract(w)), spec["pooling"])
                [spec["layer"]] for w in waves]  # fmt: skip
        features = np.stack(rows).astype(np.float64)
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
        features = self._features([np.asarray(w, dtype=np.float32) for w in waves])
        totals = np.zeros((len(waves), len(self.classes)))
        for mean, scale, head in self.heads:
            inputs = (features - mean) / scale
            if int(head.arrays["kind"][0]) == 2:
                totals[np.arange(len(waves)), head.predict(inputs)] += 1.0
            else:
                scores = head.scores(inputs)
                if int(head.arrays["kind"][0]) == 0:  # ridge scores -> probabilities
                    scores = np.exp(scores - scores.max(1, keepdims=True))
                    scores /= scores.sum(1, keepdims=True)
                totals += scores
        totals /= len(self.heads)
        return [dict(zip(self.classes, row.tolist())) for row in totals]

    def predict_signal(self, wave: np.ndarray) -> dict[str, float]:
        return self.predict_signals([wave])[0]

    def predict_files(self, paths: list[str | Path]) -> list[dict[str, float]]:
        return self.predict_signals([load_audio(p, sample_rate=self.sample_rate) for p in paths])

    def predict_file(self, path: str | Path) -> dict[str, float]:
        return self.predict_files([path])[0]
