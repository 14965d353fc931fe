"""Run one experiment from its config and write the run folder.

config -> corpora -> manifest -> labels -> (audio -> upstream -> cache) -> pooled features
-> speaker-independent folds (audited) -> tuned head per fold -> predictions -> metrics ->
run folder (config.yaml, versions.json, metrics.json, predictions.csv, plots, report.html).

Each finished fold is saved under ``folds/`` with the config digest, so a killed run
resumes at the first unfinished fold, and the feature cache resumes extraction.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from emotransfer import registry, run_outputs
from emotransfer.config import ExperimentConfig
from emotransfer.data.confounds import confound_audit
from emotransfer.data.items import decode_inputs, decode_waves
from emotransfer.data.splits import Fold, audit_folds, speaker_keys
from emotransfer.evaluation.metrics import classification_report
from emotransfer.features.extract import Extraction
from emotransfer.fold_store import load_fold, save_fold, save_head
from emotransfer.io import write_json, write_text
from emotransfer.model_spec import FrozenSpec, TrainedSpec
from emotransfer.models.batched import lengths, take
from emotransfer.models.calibration import calibration_report
from emotransfer.prepare import (
    BadAudioError,
    auxiliary_labels,
    cache_root,
    choose_normalization,
    corrupted_features,
    experiment_folds,
    folder_path,
    missing_files,
    prepare_manifest,
    result_folder,
    run_features,
)
from emotransfer.run_files import record_model_files
from emotransfer.run_folder import RunFolderError, claim_folder, claim_source, read_inputs
from emotransfer.run_inputs import run_digest
from emotransfer.run_lock import RunFolderBusy, RunLock
from emotransfer.run_outputs import dimensional_report, fold_predictions, save_speaker_statistics
from emotransfer.training.audio_fold import (
    audio_limits,
    cached_inputs,
    calibrate_folds,
    finetune_fold,
    input_encoders,
    model_spec,
    refit_model,
    train_source,
)
from emotransfer.training.frozen import FoldResult, fold_summary, run_fold

log = logging.getLogger("emotransfer")
__all__ = ["BadAudioError", "RunFolderBusy", "RunFolderError", "RunResult", "fold_predictions",
           "pretrain", "run"]  # fmt: skip


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]


def run(
    config: ExperimentConfig,
    *,
    run_dir: str | Path | None = None,
    progress: bool = True,
    resume: bool = False,
    force: bool = False,
) -> RunResult:
    """Run ``config`` end to end; returns the run folder and its metrics.

    A run folder that holds finished folds of the same config and data continues from them;
    one that holds another config or other data is refused (the message says what changed)
    unless ``force``, which recomputes it. ``resume`` also refuses a folder that holds no
    run. The folder is locked while the run writes it.

    Raises:
        RunFolderError: the folder holds another run (and not ``force``), or no run to
            ``resume``.
        RunFolderBusy: another process is writing the folder.
    """
    folder = folder_path(config, run_dir)
    with RunLock(folder):
        return _run(config, folder, progress=progress, resume=resume, force=force)


def _run(
    config: ExperimentConfig, folder: Path, *, progress: bool, resume: bool, force: bool
) -> RunResult:
    began = time.perf_counter()
    saved = read_inputs(folder, resume=resume, force=force)
    table, labels_info, skipped = prepare_manifest(config)
    if config.finetune is None:  # frozen pipeline: pooled cached features; else waveforms
        features, table, extraction = run_features(config, table, skipped, progress)
    else:
        chosen, reason = choose_normalization(
            config.finetune.normalization, table, key="finetune.normalization",
            allow_confounded=config.split.allow_confounded)  # fmt: skip
        features, table, extraction = _waves(config, table, skipped)
        extraction.normalization = {"requested": config.finetune.normalization,
                                    "chosen": chosen, "reason": reason}  # fmt: skip
    confounds = confound_audit(table, dimensions=tuple(config.evaluation.dimensions))
    for note in confounds["notes"] if confounds["warn"] else []:
        log.warning("confound: %s", note)
    classes = sorted(table["emotion"].unique())
    labels = table["emotion"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    split = config.split
    folds = experiment_folds(config, table)
    if split.only_folds:
        unknown = sorted(set(split.only_folds) - {fold.name for fold in folds})
        if unknown:
            raise ValueError(f"split.only_folds {unknown}: no such fold; have "
                             f"{[fold.name for fold in folds][:20]}")  # fmt: skip
        folds = [fold for fold in folds if fold.name in split.only_folds]
    audit = audit_folds(table, folds, kind=split.kind, allow_leakage=split.allow_leakage)
    # Only now is the run known to start: its config, versions and inputs replace the
    # folder's (a run that fails earlier leaves a finished run's files as they were).
    inputs = claim_folder(folder, config, table, saved, force=force)
    trained = time.perf_counter()
    groups = speaker_keys(table)
    fit_fold, refit = (_frozen_fitter if config.finetune is None else _finetuner)(
        config, folder, features, labels, groups, classes, progress, table=table, force=force,
        extraction=extraction, folds=len(folds))  # fmt: skip
    results = _train(config, folder, fit_fold, labels, folds, run_digest(inputs), progress)
    tune = config.finetune
    temperatures = {} if tune is None else calibrate_folds(results, labels, folder,
                                                           tune.calibration)  # fmt: skip
    wanted = config.head.refit if tune is None else tune.refit
    refit_summary = refit(results) if wanted else None
    training_s = time.perf_counter() - trained

    predictions = fold_predictions(table, results, classes, labels)
    write_text(folder / "predictions.csv", predictions.to_csv(index=False))
    order = np.concatenate([r.test for r in results])
    guess = np.concatenate([r.predicted for r in results])
    evaluation = config.evaluation
    metrics = {
        "experiment": config.name,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "seed": config.seed,
        "classes": classes,
        **classification_report(
            labels[order],
            guess,
            classes,
            bootstrap=evaluation.bootstrap,
            confidence=evaluation.confidence,
            seed=config.seed,
        ),
        "folds": [fold_summary(r, f, labels, len(classes)) for r, f in zip(results, folds)],
        "audit": audit,
        "confounds": confounds,
        "labels": labels_info,
        "data": {
            "corpora": [c.name for c in config.data.corpora],
            "n_files": len(table),
            "n_speakers": int(len(np.unique(speaker_keys(table)))),
            "skipped_files": skipped,
        },
        "features": {
            "upstream": config.features.upstream,
            "dim": int(features.shape[-1]) if config.finetune is None else None,
            "layer": config.features.layer,
            "pooling": config.features.pooling,
            "normalization": config.features.normalization,
            "normalization_chosen": extraction.normalization,
            "cache_hits": extraction.hits,
            "cache_corrupt": getattr(extraction, "corrupt", 0),
            "cache_misses": extraction.misses,
            "cache_dir": str(cache_root(config)),
        },
        "head": {
            "name": config.head.name,
            "params": config.head.params,
            "grid": _grid(config),
            "inner_cv": f"speaker-grouped {config.head.inner_folds}-fold on each training fold",
        },
        "timing": {
            "features_s": round(extraction.seconds, 3),
            "training_s": round(training_s, 3),
            "total_s": round(time.perf_counter() - began, 3),
        },
    }
    if refit_summary is not None:
        metrics["refit"] = refit_summary
    if all(r.probabilities is not None for r in results):
        method = config.head.calibration if tune is None else tune.calibration
        metrics["calibration"] = {**calibration_report(
            labels[order], np.concatenate([r.probabilities for r in results]), method),
            **temperatures}  # fmt: skip
    if config.finetune is not None:
        metrics["finetune"] = config.finetune.model_dump(mode="json")
    if evaluation.dimensions:  # a trained model's joint values, or ridge on frozen features
        metrics["dimensional"] = dimensional_report(config, features, table, folds, predictions,
                                              results, blocks=extraction.blocks)  # fmt: skip
        write_text(folder / "predictions.csv", predictions.to_csv(index=False))
    write_json(folder / "metrics.json", metrics)
    from emotransfer.reporting.html import write_report

    write_report(folder)
    record_model_files(folder)
    return RunResult(folder, metrics)


def _grid(config: ExperimentConfig) -> dict[str, list[Any]]:
    if config.head.grid:
        return config.head.grid
    return dict(registry.resolve("head", config.head.name, plugins=config.plugins).default_grid)


def _waves(config: ExperimentConfig, table: pd.DataFrame, skipped: list) -> tuple:
    waves, problems = decode_waves(table, config.data.audio, stream=config.finetune.stream_audio)
    if config.data.audio.on_error == "raise" and (problems or missing_files(skipped)):
        raise BadAudioError(missing_files(skipped) + problems)
    skipped.extend(problems)
    keep = [i for i, length in enumerate(lengths(waves)) if length]  # bad audio has none
    extraction = Extraction(arrays=[], errors=problems)
    table, waves = table.iloc[keep].reset_index(drop=True), take(waves, keep)  # still streamed
    others = input_encoders(config)
    if others:  # a model of several inputs: {modality: items}
        items = decode_inputs(table, others, missing=config.model.allows_missing)
        return {"audio": waves, **items}, table, extraction
    return waves, table, extraction


def _frozen_fitter(config: ExperimentConfig, folder: Path, features: np.ndarray,
                   labels: np.ndarray, groups: np.ndarray, classes: list[str], progress: bool,
                   *, table: pd.DataFrame, folds: int, extraction: Extraction,
                   force: bool = False) -> Any:  # fmt: skip
    """Write the frozen run's model.json (planning ``folds`` fold models); return the fold
    fitter (a tuned head per fold on the cached features, saved under models/) and the refit
    (one head on every row, saved under refit/)."""
    head = registry.build("head", config.head.name, plugins=config.plugins,
                          **config.head.params)  # fmt: skip
    auxiliary = auxiliary_labels(config, table)
    targets = {name: table[name].to_numpy(dtype=float)
               for name in config.evaluation.dimensions if name in table}  # fmt: skip
    test_features = None
    if config.data.test_corruption:
        test_features = corrupted_features(config, table, progress=progress)
        if config.features.layer is not None:
            test_features = test_features[:, config.features.layer]
    normalization = extraction.normalization["chosen"]
    write_json(folder / "model.json", _frozen_spec(config, classes, folds, normalization))
    save_speaker_statistics(folder, extraction.speaker_stats)  # a clip of no declared speaker

    def fit_fold(fold: Fold) -> FoldResult:
        result = run_fold(head, _grid(config), features, labels, groups, fold,
                          inner_folds=config.head.inner_folds, seed=config.seed,
                          test_features=test_features, auxiliary=auxiliary,
                          targets=targets, calibration=config.head.calibration,
                          blocks=extraction.blocks)  # fmt: skip
        save_head(folder / "models" / _safe(fold.name), result)
        return result

    def refit(results: list[FoldResult]) -> dict[str, Any]:
        """One head on every row, its parameters chosen on speaker folds of all of them
        (scikit-learn's refit), saved as refit/ for predict: the servable model."""
        every = np.arange(len(labels))
        result = run_fold(head, _grid(config), features, labels, groups,
                          Fold("refit", every, every[:1]), inner_folds=config.head.inner_folds,
                          seed=config.seed, auxiliary=auxiliary, targets=targets,
                          calibration=config.head.calibration,
                          blocks=extraction.blocks)  # fmt: skip
        save_head(folder / "refit", result)
        return {"best_params": result.best_params, "inner_scores": result.inner_scores,
                "n_train": len(every), "temperature": result.temperature}  # fmt: skip

    return fit_fold, refit


def _finetuner(config: ExperimentConfig, folder: Path, waves: list, labels: np.ndarray,
               groups: np.ndarray, classes: list[str], progress: bool, *,
               table: pd.DataFrame | None = None, folds: int | None = None,
               extraction: Extraction | None = None, force: bool = False) -> Any:  # fmt: skip
    """Write the trained run's model.json (planning ``folds`` fold models; and run stage 1
    of a two-stage run); return the fold fitter (one fine-tuned model per fold, saved under
    models/) and the refit (one model on every clip for the median of the folds' best
    epochs, saved under refit/)."""
    spec = model_spec(config, classes)
    spec.folds = folds
    if extraction is not None:  # the choice of finetune.normalization (auto) for this data
        spec.speaker_norm = extraction.normalization["chosen"] == "speaker"
    write_json(folder / "model.json", spec.to_json())
    source_state = None
    if config.finetune.source:
        source_state = _source_stage(config, folder, spec, progress, force)
    waves, shared = cached_inputs(config, spec, waves)  # finetune.cache_states
    values = run_outputs.dimension_values(table, spec.dimensions) if spec.dimensions else None
    common = {"source_state": source_state, "progress": progress, "shared": shared,
              "values": values}  # fmt: skip

    def fit_fold(fold: Fold) -> FoldResult:
        (fold_folder := folder / "models" / _safe(fold.name)).mkdir(parents=True, exist_ok=True)
        return finetune_fold(config, spec, waves, labels, groups, fold, fold_folder, **common)

    def refit(results: list[FoldResult]) -> dict[str, Any]:
        chosen = [int(r.best_params.get("best_epoch", r.best_params["epochs"])) for r in results]
        epochs = max(int(np.ceil(np.median(chosen))), 0 if config.finetune.head_epochs else 1)
        refit_model(config, spec, waves, labels, groups, folder / "refit", epochs=epochs, **common)
        return {"epochs": epochs, "fold_epochs": chosen, "n_train": len(labels)}

    return fit_fold, refit


def pretrain(config: ExperimentConfig, *, progress: bool = True) -> Path:
    """Stage 1 alone: train the encoder on ``finetune.source`` (or, if empty, on
    ``data.corpora``) for the label column ``finetune.source_target`` (speaker, gender,
    emotion, ...) and export it as a model folder, ``<output_dir>/<name>/source/encoder``,
    which any experiment uses as an upstream (``features.params.model``). A self-pre-trained
    upstream for task-similarity studies. Resumes like stage 1 of a two-stage run."""
    if config.finetune is None:
        raise ValueError("pretrain needs a finetune section (strategy, epochs, source_target)")
    config = config.model_copy(deep=True)
    if not config.finetune.source:
        config.finetune.source = config.data.corpora
    folder = folder_path(config)
    with RunLock(folder):
        result_folder(config, folder)
        _source_stage(config, folder, model_spec(config, []), progress)
    return folder / "source" / "encoder"


def _source_stage(
    config: ExperimentConfig, folder: Path, spec: TrainedSpec, progress: bool,
    force: bool = False,
) -> Any:  # fmt: skip
    source_config = config.model_copy(deep=True)
    source_config.data.corpora = config.finetune.source
    source_config.data.labels = type(config.data.labels)()
    if config.finetune.source_target != "emotion":
        # Stage 1 learns another column (speaker, gender): its emotion labels are not used.
        source_config.data.labels.other = "keep"
    source_config.split = type(config.split)()
    source_table, _, source_skipped = prepare_manifest(source_config)
    source_waves, source_table, _ = _waves(source_config, source_table, source_skipped)
    target = config.finetune.source_target
    if target not in source_table:
        raise ValueError(f"finetune.source_target {target!r}: no such manifest column")
    values = source_table[target].astype(str)
    source_classes = sorted(values.unique())
    if len(source_classes) < 2:
        raise ValueError(f"finetune.source_target {target!r}: the source corpora have "
                         f"one value only ({source_classes}); nothing to learn")  # fmt: skip
    source_labels = values.map({c: i for i, c in enumerate(source_classes)}).to_numpy()
    claim_source(folder / "source", config, source_table, force=force)
    return train_source(config, spec, source_waves, source_labels, folder / "source",
                        progress=progress)  # fmt: skip


def _frozen_spec(config: ExperimentConfig, classes: list[str], folds: int,
                 normalization: str) -> dict[str, Any]:  # fmt: skip
    features = config.features
    spec = FrozenSpec(upstream=features.upstream, params=features.params, layer=features.layer,
                      pooling=features.pooling, normalization=normalization,
                      classes=classes, sample_rate=config.data.audio.sample_rate,
                      audio=audio_limits(config), folds=folds).to_json()  # fmt: skip
    if config.early_fusion:  # recorded; predict refuses it (audio and text: not served yet)
        spec["text"] = config.inputs["text"].model_dump(mode="json")
    return spec


def _train(config: ExperimentConfig, folder: Path, fit_fold: Any, labels: np.ndarray,
           folds: list[Fold], digest: str, progress: bool) -> list[FoldResult]:  # fmt: skip
    results = []
    bar = tqdm(folds, desc="folds", unit="fold", disable=not progress)
    for number, fold in enumerate(bar, start=1):
        saved = folder / "folds" / f"{_safe(fold.name)}.json"
        result = load_fold(saved, digest, fold)
        if result is None:
            result = fit_fold(fold)
            save_fold(saved, digest, result)
        summary = fold_summary(result, fold, labels, int(labels.max()) + 1)
        message = (
            f"fold {number}/{len(folds)} {fold.name} (held out: "
            f"{', '.join(fold.held_out)}): UAR {summary['uar']:.3f} {result.best_params}"
        )
        (tqdm.write if progress else log.info)(message)  # once: above the bar, or logged
        results.append(result)
    return results


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)
