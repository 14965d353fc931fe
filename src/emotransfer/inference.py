"""Inference from a trained run folder: per-class probabilities for new audio.

A fine-tuning run keeps ``model.json`` (base encoder, strategy, classes) and each fold's
trained weights as ``models/<fold>/trainable.safetensors``; the predictor rebuilds the model
for each fold (no pickle anywhere) and averages the folds' probabilities.

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

    @torch.no_grad()
    def predict_signal(self, wave: np.ndarray) -> dict[str, float]:
        """Probabilities for one mono waveform at ``sample_rate``."""
        totals = np.zeros(len(self.classes))
        for model in self.models:
            batch = model.backbone.prepare([np.asarray(wave, dtype=np.float32)])
            totals += torch.softmax(model(batch).float(), dim=-1)[0].numpy()
        return dict(zip(self.classes, (totals / len(self.models)).tolist()))

    def predict_file(self, path: str | Path) -> dict[str, float]:
        """Probabilities for an audio file (any rate or channel count)."""
        return self.predict_signal(load_audio(path, sample_rate=self.sample_rate))
