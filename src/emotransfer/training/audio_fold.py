"""One outer fold of a fine-tuning experiment, and two-stage transfer.

Training speakers are split once more (speaker-grouped) into training and validation
speakers for early stopping; the fold's test speakers are only predicted. Each fold's
trained weights (only the parameters the strategy trains) are saved as safetensors with a
JSON description, so :class:`~emotransfer.inference.Predictor` rebuilds the model without
pickle.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from emotransfer import registry
from emotransfer.data.audio import AudioError, load_audio
from emotransfer.data.corrupt import build_corruption
from emotransfer.data.splits import Fold, inner_splits
from emotransfer.models.audio_model import EmotionModel, build_model
from emotransfer.training.frozen import FoldResult
from emotransfer.training.trainer import Trainer


def decode_waves(
    table: pd.DataFrame, audio: Any
) -> tuple[list[np.ndarray | None], list[dict[str, str]]]:
    """Decode every row once; bad files are returned as problems, not raised."""
    waves: list[np.ndarray | None] = []
    problems = []
    for path, start, end in zip(table["file"], table["start"], table["end"]):
        try:
            waves.append(load_audio(path, start=start, end=end, sample_rate=audio.sample_rate,
                                    min_duration=audio.min_duration,
                                    max_duration=audio.max_duration))  # fmt: skip
        except AudioError as error:
            waves.append(None)
            problems.append({"file": str(path), "problem": error.problem})
    return waves, problems


def model_spec(config: Any, classes: list[str]) -> dict[str, Any]:
    """Everything needed to rebuild the fold models (written as model.json)."""
    params = config.features.params
    if config.features.upstream != "hf" or "model" not in params:
        raise ValueError("finetune needs features.upstream=hf and features.params.model")
    tune = config.finetune
    if tune.export_encoder and tune.strategy == "adapters":
        raise ValueError("finetune.export_encoder: bottleneck adapters are extra modules, not "
                         "a change of the encoder's weights; export works for frozen, finetune, "
                         "full and lora")  # fmt: skip
    return {"model": params["model"], "whisper_input": params.get("whisper_input", "real_length"),
            "random_init": tune.random_init, "speaker_norm": tune.normalization == "speaker",
            "classes": classes, "layer": tune.layer, "strategy": tune.strategy,
            "strategy_params": tune.params, "sample_rate": config.data.audio.sample_rate,
            "audio": audio_limits(config),
            "source": bool(tune.source), "source_strategy": tune.source_strategy,
            "source_params": tune.source_params}  # fmt: skip


def audio_limits(config: Any) -> dict[str, Any]:
    """The run's audio rate and duration limits, which prediction applies too."""
    audio = config.data.audio
    return {"sample_rate": audio.sample_rate, "min_duration": audio.min_duration,
            "max_duration": audio.max_duration}  # fmt: skip


SOURCE_STRATEGIES = ("frozen", "finetune", "full")


def assemble(
    spec: dict[str, Any],
    source_state: dict[str, torch.Tensor] | None = None,
    *,
    plugins: Collection[str] = (),
) -> tuple[EmotionModel, list[dict[str, Any]]]:
    """A fresh model: pretrained encoder, then the stage-1 encoder weights if any, then the
    strategy (which may add adapters on top of them). ``plugins``: the ``module:Class``
    strategies the caller allows (never read from ``spec``: it may come from a run folder)."""
    model = build_model(model=spec["model"], num_classes=len(spec["classes"]),
                        layer=spec["layer"], whisper_input=spec["whisper_input"],
                        random_init=spec.get("random_init", False),
                        speaker_norm=spec.get("speaker_norm", False),
                        # set by the caller: inference replaces any value read from model.json
                        trust_remote_code=spec.get("trust_remote_code", False))  # fmt: skip
    if source_state is not None:
        _load_encoder(model, source_state)
    strategy = registry.build("strategy", spec["strategy"], plugins=plugins,
                              **spec["strategy_params"])  # fmt: skip
    return model, strategy.apply(model)


def finetune_fold(
    config: Any,
    spec: dict[str, Any],
    waves: list[np.ndarray],
    labels: np.ndarray,
    groups: np.ndarray,
    fold: Fold,
    folder: Path,
    *,
    source_state: dict[str, torch.Tensor] | None = None,
    progress: bool = False,
) -> FoldResult:
    """Train on ``fold.train`` (minus validation speakers), predict ``fold.test``."""
    tune = config.finetune
    train, valid = _validation_split(labels, groups, fold, tune.validation_folds, config.seed)
    torch.manual_seed(config.seed)
    model, groups_ = assemble(spec, source_state, plugins=config.plugins)
    trainer = _trainer(config, model, groups_, folder / "checkpoint", progress)
    trainer.fit([waves[i] for i in train], labels[train], groups=groups[train],
                valid_waves=[waves[i] for i in valid], valid_labels=labels[valid],
                valid_groups=groups[valid])  # fmt: skip
    test_waves = [waves[i] for i in fold.test]
    if config.data.test_corruption:
        corruption = build_corruption(config.data.test_corruption)
        test_waves = [corruption(wave, config.data.audio.sample_rate,
                                 np.random.default_rng([config.seed, int(i)]))
                      for wave, i in zip(test_waves, fold.test)]  # fmt: skip
    probabilities = trainer.predict_proba(test_waves, groups=groups[fold.test])
    save_file(trainer._trainable_state(), str(folder / "trainable.safetensors"))
    if tune.export_encoder:
        export_encoder(model, spec, folder / "encoder")
    (folder / "history.json").write_text(json.dumps(trainer.history_, indent=1))
    return FoldResult(fold.name, fold.test, probabilities.argmax(axis=1), probabilities,
                      {"epochs": len(trainer.history_)}, [])  # fmt: skip


def train_source(
    config: Any, spec: dict[str, Any], waves: list[np.ndarray], labels: np.ndarray,
    folder: Path, *, progress: bool = False,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Stage 1 of two-stage transfer: train on the source corpora (its own classes, task and
    strategy); returns the encoder state that stage 2 starts from. Also saved as a model
    folder ``source/encoder`` that any experiment can use as an upstream."""
    target = folder / "encoder.safetensors"
    if target.is_file():
        return load_file(str(target))
    tune = config.finetune
    if tune.source_strategy not in SOURCE_STRATEGIES:
        raise ValueError(
            f"finetune.source_strategy {tune.source_strategy!r}: stage 1 must change the encoder "
            f"weights themselves, one of {SOURCE_STRATEGIES} (stage 2 may use lora or adapters)"
        )
    classes = int(labels.max()) + 1
    torch.manual_seed(config.seed)
    model = build_model(model=spec["model"], num_classes=classes, layer=spec["layer"],
                        whisper_input=spec["whisper_input"],
                        random_init=spec.get("random_init", False))  # fmt: skip
    strategy = registry.build("strategy", tune.source_strategy, plugins=config.plugins,
                              **tune.source_params)  # fmt: skip
    trainer = _trainer(config, model, strategy.apply(model), folder / "checkpoint", progress)
    trainer.epochs = tune.source_epochs
    trainer.fit(waves, labels)
    state = {k: v.detach().clone().contiguous() for k, v in model.backbone.state_dict().items()}
    save_file(state, str(target))
    # The stage-1 encoder as a model folder: usable as a frozen upstream
    # (features.params.model: <run>/source/encoder) like any pretrained model.
    save_encoder_folder(model.backbone.module, model.backbone._source.features,
                        folder / "encoder")  # fmt: skip
    return state


def export_encoder(model: EmotionModel, spec: dict[str, Any], folder: Path) -> Path:
    """Save the adapted encoder as a plain transformers model folder (LoRA merged into the
    weights it adapts), usable as an upstream (``features.params.model: folder``): e.g. to
    probe every layer of the fine-tuned encoder with the frozen-feature protocol.

    Raises:
        ValueError: the strategy added modules a plain encoder has no place for
            (bottleneck adapters).
    """
    from emotransfer.features.hf import HFEncoder
    from emotransfer.transfer.merge import merged_state_dict

    if spec["strategy"] == "adapters":
        raise ValueError("bottleneck adapters cannot be exported as a plain encoder folder")
    fresh = HFEncoder(
        model=spec["model"],
        whisper_input=spec["whisper_input"],  # type: ignore[arg-type]
        random_init=spec.get("random_init", False),
    )._load()
    plain = fresh.encoder if hasattr(fresh, "encoder") else fresh.model
    plain.float().load_state_dict(merged_state_dict(model.backbone.module), strict=True)
    return save_encoder_folder(plain, fresh.features, folder)


def save_encoder_folder(module: torch.nn.Module, features: Any, folder: Path) -> Path:
    """Write a transformers encoder (+ its feature extractor) as a model folder that
    :class:`~emotransfer.features.hf.HFEncoder` loads, atomically (a ``.partial`` folder
    renamed at the end). A Whisper encoder keeps the ``encoder.`` prefix of a full Whisper
    checkpoint."""
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    if module.config.model_type == "whisper":
        state = {f"encoder.{k}": v for k, v in state.items()}
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    module.save_pretrained(partial, state_dict=state, safe_serialization=True)
    features.save_pretrained(partial)
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    return folder


def _load_encoder(model: EmotionModel, state: dict[str, torch.Tensor]) -> None:
    _, unexpected = model.backbone.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"stage-1 encoder state does not fit: {unexpected[:3]}")


def _trainer(config: Any, model: EmotionModel, groups: list, checkpoint: Path,
             progress: bool) -> Trainer:  # fmt: skip
    tune = config.finetune
    return Trainer(model=model, param_groups=groups, epochs=tune.epochs,
                   batch_size=tune.batch_size, learning_rate=tune.learning_rate,
                   weight_decay=tune.weight_decay, accumulation=tune.accumulation,
                   mixed_precision=tune.mixed_precision, patience=tune.patience,
                   max_seconds=tune.max_seconds, seed=config.seed, checkpoint_dir=checkpoint,
                   augment=build_corruption(tune.augment) if tune.augment else None,
                   head_epochs=tune.head_epochs, progress=progress)  # fmt: skip


def _validation_split(
    labels: np.ndarray, groups: np.ndarray, fold: Fold, folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if folds == 0 or len(np.unique(groups[fold.train])) < 2:
        return fold.train, fold.train[:0]
    inner_train, inner_valid = inner_splits(groups[fold.train], labels[fold.train],
                                            folds=folds, seed=seed)[0]  # fmt: skip
    return fold.train[inner_train], fold.train[inner_valid]
