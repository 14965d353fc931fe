"""One outer fold of a fine-tuning experiment, and two-stage transfer.

Training speakers are split once more (speaker-grouped) into training and validation
speakers for early stopping; the fold's test speakers are only predicted. Each fold's
trained weights (only the parameters the strategy trains) are saved as safetensors with a
JSON description, so :class:`~emotransfer.inference.Predictor` rebuilds the model without
pickle.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from emotransfer import registry
from emotransfer.data.corrupt import build_corruption
from emotransfer.data.splits import Fold, inner_splits
from emotransfer.define import is_audio_view
from emotransfer.io import write_atomic, write_json, write_text
from emotransfer.memory import bound_memory
from emotransfer.model_spec import TrainedSpec
from emotransfer.models.batched import count, keep_average_speaker, pooled_float, softmax, take
from emotransfer.models.emotion_model import EmotionModel
from emotransfer.run_files import CALIBRATION
from emotransfer.seeding import torch_seed
from emotransfer.training.frozen import FoldResult
from emotransfer.training.lpft import LPFTTrainer
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.adapters import Bottleneck
from emotransfer.transfer.build import build_model
from emotransfer.transfer.merge import merged_state_dict

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


# Frozen upstream -> the trainable encoder that computes the same thing; any other upstream
# is wrapped as a weightless encoder (its features train the head through the same loop).
TRAINABLE = {"hf": "hf", "logmel": "logmel"}
# HFEncoder parameters that only concern frozen extraction (the trainable encoder computes in
# float32 under the Trainer's autocast, on whole clips, in its own batches).
EXTRACTION_ONLY = ("dtype", "max_chunk_s", "batch_size", "num_threads", "device")


def encoder_of(features: Any) -> tuple[str, dict[str, Any]]:
    """The registered encoder and its parameters for a config's ``features`` section."""
    params = dict(features.params)
    if features.upstream == "hf":
        if "model" not in params:
            raise ValueError("features.upstream=hf needs features.params.model")
        params = {k: v for k, v in params.items() if k not in EXTRACTION_ONLY}
        params.setdefault("whisper_input", "real_length")
        return "hf", params
    if features.upstream in TRAINABLE:
        return TRAINABLE[features.upstream], params
    return "upstream", {"upstream": features.upstream, "params": params}


def model_spec(config: ExperimentConfig, classes: list[str]) -> TrainedSpec:
    """Everything needed to rebuild the fold models (written as model.json)."""
    tune = config.finetune
    if tune.export_encoder and tune.strategy == "adapters":
        raise ValueError("finetune.export_encoder: bottleneck adapters are extra modules, not "
                         "a change of the encoder's weights; export works for frozen, finetune, "
                         "full and lora")  # fmt: skip
    encoder, params = encoder_of(config.features)
    if config.model.encoder is not None:
        encoder, params = config.model.encoder, dict(config.model.encoder_params)
    if encoder == "hf":
        params["random_init"] = tune.random_init
    elif tune.random_init:
        raise ValueError(f"finetune.random_init: the {config.features.upstream!r} upstream has "
                         "no pretrained weights to replace")  # fmt: skip
    model = config.model
    return TrainedSpec(
        classes=classes, sample_rate=config.data.audio.sample_rate, encoder=encoder,
        encoder_params=params, architecture=model.name, architecture_params=model.params,
        fusion=model.fusion, layer=tune.layer,
        strategy=tune.strategy, strategy_params=tune.params,
        speaker_norm=tune.normalization == "speaker", source=bool(tune.source),
        source_strategy=tune.source_strategy, source_params=tune.source_params,
        audio=audio_limits(config), trust_remote_code=bool(params.get("trust_remote_code")),
        inputs=input_encoders(config), asr=asr_settings(config),
        dimensions=list(config.evaluation.dimensions),
    )  # fmt: skip


def asr_settings(config: ExperimentConfig) -> dict[str, Any] | None:
    """The ``data.asr`` settings of a run with a text input (what prediction transcribes
    clips without text with), else ``None``."""
    asr = config.data.asr
    if asr is None or "text" not in config.inputs:
        return None
    return asr.model_dump(exclude={"replace"})


def input_encoders(config: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """The spec's entry per input besides audio: its encoder (the input's ``upstream``, a
    registered encoder name; an audio view's upstream maps to its encoder as the audio
    input's does; a registered encoder name, ``leaf`` say, is taken as it is), parameters and
    manifest column."""
    entries = {}
    for modality, section in config.other_inputs().items():
        encoder, params = section.upstream, dict(section.params)
        if is_audio_view(modality) and encoder in registry.names("upstream"):
            encoder, params = encoder_of(section)  # the trainable encoder, as for audio
        entries[modality] = {"encoder": encoder, "params": params,
                             "column": config.column_of(modality)}  # fmt: skip
    return entries


def audio_limits(config: ExperimentConfig) -> dict[str, Any]:
    """The run's audio rate and duration limits, which prediction applies too."""
    return config.data.audio.options()


SOURCE_STRATEGIES = ("frozen", "finetune", "full")


def finetune_fold(
    config: ExperimentConfig,
    spec: TrainedSpec,
    waves: list[np.ndarray],
    labels: np.ndarray,
    groups: np.ndarray,
    fold: Fold,
    folder: Path,
    *,
    source_state: dict[str, torch.Tensor] | None = None,
    progress: bool = False,
    shared: dict[str, Any] | None = None,
    values: np.ndarray | None = None,
) -> FoldResult:
    """Train on ``fold.train`` (minus validation speakers), predict ``fold.test``.

    ``waves``: the clips' waveforms, or ``{modality: items}`` for a model of several inputs;
    ``shared``: encoders to build the model on (the stand-in of cached states); ``values``:
    every clip's dimensional targets ``(N, K)`` (``spec.dimensions``; NaN: unknown), learnt
    with the classes and predicted for the test clips (``FoldResult.dimensions``).
    """
    tune = config.finetune
    train, valid = _validation_split(labels, groups, fold, tune.validation_folds, config.seed)
    with torch_seed(config.seed):
        model, groups_ = build_model(spec, source_state=source_state, plugins=config.plugins,
                                     shared=shared)  # fmt: skip
    trainer = _trainer(config, model, groups_, folder / "checkpoint", progress)
    trainer.fit(take(waves, train), labels[train], groups=groups[train],
                valid_items=take(waves, valid), valid_labels=labels[valid],
                valid_groups=groups[valid],
                values=None if values is None else values[train])  # fmt: skip
    _keep_average_speaker(trainer, take(waves, train), groups[train])
    weights = _fit_fusion_weights(trainer, take(waves, valid), labels[valid])
    test_items = take(waves, fold.test)
    if config.data.test_corruption:
        corruption = build_corruption(config.data.test_corruption, plugins=config.plugins)
        audio = test_items["audio"] if isinstance(test_items, dict) else test_items
        audio = [corruption(wave, config.data.audio.sample_rate,
                            np.random.default_rng([config.seed, int(i)]))
                 for wave, i in zip(audio, fold.test)]  # fmt: skip
        test_items = {**test_items, "audio": audio} if isinstance(test_items, dict) else audio
    logits, predicted = trainer.predict_outputs(test_items, groups=groups[fold.test])
    probabilities = softmax(logits)
    _save_trained(trainer, folder)
    if tune.export_encoder:
        export_encoder(model, folder / "encoder")
    chosen = {"epochs": len(trainer.history_), "best_epoch": best_epoch(trainer.history_),
              **({"fusion_weights": weights} if weights else {})}  # fmt: skip
    dimensions = None
    if spec.dimensions and predicted is not None:
        dimensions = {name: predicted[:, k] for k, name in enumerate(spec.dimensions)}
    return FoldResult(fold.name, fold.test, probabilities.argmax(axis=1), probabilities,
                      chosen, [], dimensions=dimensions, logits=logits)  # fmt: skip


def calibrate_folds(
    results: list[FoldResult], labels: np.ndarray, folder: Path, method: str
) -> dict[str, Any]:  # fmt: skip
    """Temperature scaling of a trained run (``method`` "temperature"; "none" keeps the
    softmax): each fold's probabilities become those of its temperature fitted on the other
    folds' held-out logits (still out of fold, so the metrics stay honest), and the run's
    temperature, fitted on every fold's, is written to ``folder/calibration.json`` for the
    models the Predictor serves (the refit model and the fold ensemble). Predictions and UAR
    do not change. Returns the temperatures (metrics.json ``calibration``)."""
    from emotransfer.models.calibration import cross_fitted

    # A fold saved by an older run kept only probabilities: their log is its logits, shifted.
    logits = [r.logits if r.logits is not None else np.log(np.clip(r.probabilities, 1e-30, 1))
              for r in results]  # fmt: skip
    every, per_fold = 1.0, [1.0] * len(results)
    if method == "temperature":
        every, per_fold = cross_fitted(logits, [labels[r.test] for r in results])
        for result, scores, temperature in zip(results, logits, per_fold):
            result.probabilities = softmax(scores.astype(np.float32), temperature)
            result.temperature = temperature
    write_json(folder / CALIBRATION, {"method": method, "temperature": every})
    return {"temperature": every, "fold_temperatures": per_fold}


def cached_inputs(
    config: ExperimentConfig, spec: TrainedSpec, waves: Any
) -> tuple[Any, dict[str, Any] | None]:  # fmt: skip
    """With ``finetune.cache_states``: the frozen audio encoder's states of every clip (and
    each other input's encoder's: an audio view's of the clip, the text encoder's of its
    text ...), computed once, in place of the items, and the encoders that stand in for the
    real ones while training (:mod:`emotransfer.encoders.cached`); else the items as they
    are."""
    if not config.finetune.cache_states:
        return waves, None
    from emotransfer.encoders.cached import CachedStates, cache_states
    from emotransfer.transfer.build import build_encoder, build_input_encoder

    audio = waves["audio"] if isinstance(waves, dict) else waves
    encoders = {"audio": build_encoder(spec, plugins=config.plugins)}
    for name in spec.inputs:
        encoders[name] = build_input_encoder(spec, name, plugins=config.plugins)
    items, stand_ins = {}, {}
    for name, encoder in encoders.items():
        given = audio if name == "audio" or is_audio_view(name) else waves[name]
        items[name] = cache_states(encoder, given, batch_size=config.finetune.batch_size)
        stand_ins[name] = CachedStates(num_layers=encoder.num_layers,
                                       hidden_size=encoder.hidden_size,
                                       frame_rate=encoder.frame_rate)  # fmt: skip
    if not isinstance(waves, dict):
        return items["audio"], stand_ins
    return {**waves, **items}, stand_ins


def best_epoch(history: list[dict[str, Any]]) -> int:
    """The epoch whose weights the Trainer kept: the first best validation UAR, else the
    last epoch (no validation)."""
    scored = [record for record in history if record.get("valid_uar") is not None]
    if not scored:
        return int(history[-1]["epoch"])
    return int(max(scored, key=lambda record: record["valid_uar"])["epoch"])


def refit_model(
    config: ExperimentConfig, spec: TrainedSpec, waves: Any, labels: np.ndarray, groups: np.ndarray,
    folder: Path, *, epochs: int, source_state: dict[str, torch.Tensor] | None = None,
    progress: bool = False, shared: dict[str, Any] | None = None,
    values: np.ndarray | None = None,
) -> None:  # fmt: skip
    """One model on every clip for ``epochs`` (chosen on the folds; no validation), saved as
    ``folder/trainable.safetensors``: the run's servable model (scikit-learn's refit); with
    ``values``, its dimensional head learns them too."""
    with torch_seed(config.seed):
        model, groups_ = build_model(spec, source_state=source_state, plugins=config.plugins,
                                     shared=shared)  # fmt: skip
    trainer = _trainer(config, model, groups_, folder / "checkpoint", progress)
    trainer.epochs = epochs
    trainer.fit(waves, labels, groups=groups, values=values)
    _keep_average_speaker(trainer, waves, groups)
    _save_trained(trainer, folder)


def _keep_average_speaker(trainer: Trainer, items: Any, groups: np.ndarray) -> None:
    """A speaker-normalised model keeps its average training speaker (for clips of no
    declared speaker at inference), from the clips it trained on."""
    model = trainer.model
    if hasattr(model, "average_speaker"):  # only a speaker-normalised model has one
        keep_average_speaker(model, items, trainer.batch_size, groups)


def _fit_fusion_weights(trainer: Trainer, items: Any, labels: np.ndarray) -> dict[str, float]:
    """A late fusion's modality weights, refitted on the fold's validation speakers (clips the
    modality classifiers never trained on); ``{}`` for another fusion or without validation."""
    model = trainer.model
    fusion = getattr(model, "fusion", None)
    if not hasattr(fusion, "fit_weights") or count(items) == 0:
        return {}
    inputs = model.fusion_inputs(pooled_float(model, items, trainer.batch_size))
    weights = fusion.fit_weights(inputs, torch.as_tensor(labels))
    return dict(zip(fusion.sizes, weights.tolist()))


def _save_trained(trainer: Trainer, folder: Path) -> None:
    """The weights the strategy trained (``trainable.safetensors``, atomically; with a kept
    average speaker) and the training history (``history.json``) of a fitted trainer."""
    trained = trainer._trainable_state()
    if getattr(trainer.model, "keeps_average_speaker", False):
        trained["average_speaker"] = trainer.model.average_speaker.detach().cpu().clone()
    write_atomic(
        folder / "trainable.safetensors", lambda temporary: save_file(trained, str(temporary))
    )
    write_text(folder / "history.json", json.dumps(trainer.history_, indent=1))


def train_source(
    config: ExperimentConfig, spec: TrainedSpec, waves: list[np.ndarray], labels: np.ndarray,
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
    stage = replace(spec, speaker_norm=False)
    with torch_seed(config.seed):
        model, groups_ = build_model(stage, num_classes=classes, strategy=tune.source_strategy,
                                     strategy_params=tune.source_params,
                                     plugins=config.plugins)  # fmt: skip
    trainer = _trainer(config, model, groups_, folder / "checkpoint", progress)
    trainer.epochs = tune.source_epochs
    trainer.fit(waves, labels)
    encoder = model.encoders["audio"]
    state = {k: v.detach().clone().contiguous() for k, v in encoder.state_dict().items()}
    write_atomic(target, lambda temporary: save_file(state, str(temporary)))
    # The stage-1 encoder as a model folder: usable as a frozen upstream
    # (features.params.model: <run>/source/encoder) like any pretrained model.
    if hasattr(encoder, "save_folder"):
        encoder.save_folder(folder / "encoder")
    return state


def export_encoder(model: torch.nn.Module, folder: Path) -> Path:
    """Save the adapted encoder as a plain transformers model folder (LoRA merged into the
    weights it adapts), usable as an upstream (``features.params.model: folder``): e.g. to
    probe every layer of the fine-tuned encoder with the frozen-feature protocol.

    Raises:
        ValueError: the encoder cannot be saved as a model folder, or the strategy added
            modules a plain encoder has no place for (bottleneck adapters).
    """
    encoder = model.encoders["audio"]
    if not hasattr(encoder, "save_folder"):
        raise ValueError("finetune.export_encoder: only a transformers encoder (hf) is saved "
                         "as a model folder")  # fmt: skip
    if any(isinstance(module, Bottleneck) for module in encoder.modules()):
        raise ValueError("bottleneck adapters cannot be exported as a plain encoder folder")
    return encoder.save_folder(folder, state=merged_state_dict(encoder.adaptable()))


def _trainer(config: ExperimentConfig, model: EmotionModel, groups: list, checkpoint: Path,
             progress: bool) -> Trainer:  # fmt: skip
    bound_memory()  # resident memory that does not grow with the batches seen
    tune = config.finetune
    lpft = ({"head_epochs": tune.head_epochs, "recipe": tune.head_recipe} if tune.head_epochs
            else {})  # fmt: skip
    augment = build_corruption(tune.augment, plugins=config.plugins) if tune.augment else None
    kind = LPFTTrainer if lpft else Trainer
    settings = {
        "strategy": tune.strategy, "epochs": tune.epochs, "batch_size": tune.batch_size,
        "learning_rate": tune.learning_rate, "weight_decay": tune.weight_decay,
        "model": config.model.name, "fusion": config.model.fusion, "seed": config.seed,
    }  # fmt: skip
    return kind(**lpft, model=model, param_groups=groups, epochs=tune.epochs,
                   batch_size=tune.batch_size, learning_rate=tune.learning_rate,
                   weight_decay=tune.weight_decay, accumulation=tune.accumulation,
                   mixed_precision=tune.mixed_precision, patience=tune.patience,
                   max_seconds=tune.max_seconds, seed=config.seed, checkpoint_dir=checkpoint,
                   augment=augment, progress=progress, log_with=tune.log_with,
                   log_folder=checkpoint.parent, log_experiment=config.name,
                   log_settings=settings,
                   dimension_weight=tune.dimension_weight,
                   loader_workers=tune.loader_workers)  # fmt: skip


def _validation_split(
    labels: np.ndarray, groups: np.ndarray, fold: Fold, folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if folds == 0 or len(np.unique(groups[fold.train])) < 2:
        return fold.train, fold.train[:0]
    inner_train, inner_valid = inner_splits(groups[fold.train], labels[fold.train],
                                            folds=folds, seed=seed)[0]  # fmt: skip
    return fold.train[inner_train], fold.train[inner_valid]
