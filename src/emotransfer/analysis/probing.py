"""Layer-wise probing: which hidden state knows emotion?

For every hidden state a linear probe is tuned and tested under the experiment's own
speaker-independent folds. Two summaries avoid picking the layer on the test speakers:
the layer chosen per fold by inner (training-speaker) validation, and a learned
softmax-weighted sum of all layers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from emotransfer.data.splits import Fold
from emotransfer.evaluation.metrics import classification_report
from emotransfer.models.heads import Head
from emotransfer.models.layers import LayerSumHead
from emotransfer.training.frozen import FoldResult, run_fold

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


@dataclass
class ProbeResult:
    """Per-layer, chosen-layer and weighted-sum results (all with bootstrap intervals)."""

    layers: list[dict[str, Any]]
    selected: dict[str, Any]
    weighted_sum: dict[str, Any] | None = None
    timing: dict[str, float] = field(default_factory=dict)


def probe_layers(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    folds: list[Fold],
    *,
    classes: list[str],
    head: Head,
    grid: dict[str, list[Any]],
    inner_folds: int = 3,
    seed: int = 0,
    bootstrap: int = 1000,
    weighted_sum: bool = True,
    progress: bool = False,
) -> ProbeResult:
    """Probe every hidden state of ``features``.

    Args:
        features: ``(N, L + 1, D)`` pooled, normalised features.
        labels: ``(N,)`` class indices into ``classes``.
        groups: ``(N,)`` speaker keys (inner validation is speaker-grouped).
        folds: the experiment's outer folds.
        head: the probe (cloned per layer and fold), e.g. ``RidgeHead()``.
        grid: its hyper-parameter grid; needs >= 2 points so layers can be compared on
            inner folds.
    """
    began = time.perf_counter()
    per_layer: list[list[FoldResult]] = []
    for layer in tqdm(range(features.shape[1]), desc="layers", disable=not progress):
        per_layer.append(
            [
                run_fold(
                    head,
                    grid,
                    features[:, layer],
                    labels,
                    groups,
                    fold,
                    inner_folds=inner_folds,
                    seed=seed,
                    score_single=True,
                )
                for fold in folds
            ]  # fmt: skip
        )
    probed = time.perf_counter()
    layers = []
    for layer, results in enumerate(per_layer):
        summary = _summary(results, labels, classes, bootstrap, seed)
        layers.append({"layer": layer, **summary})
    inner = np.array([[max(r.inner_scores or [0.0]) for r in results] for results in per_layer])
    chosen = [int(i) for i in inner.argmax(axis=0)]  # per fold: the best layer on inner folds
    selected = _summary(
        [per_layer[layer][f] for f, layer in enumerate(chosen)], labels, classes, bootstrap, seed
    )
    selected["layers_chosen"] = {fold.name: layer for fold, layer in zip(folds, chosen)}
    result = ProbeResult(layers, selected)
    if weighted_sum:
        mixer = LayerSumHead(seed=seed)
        results = [
            run_fold(mixer, {}, features, labels, groups, fold,
                     inner_folds=inner_folds, seed=seed) for fold in folds
        ]  # fmt: skip
        result.weighted_sum = _summary(results, labels, classes, bootstrap, seed)
        weights = np.mean([r.model.layer_weights_ for r in results], axis=0)
        result.weighted_sum["layer_weights"] = weights.tolist()
    result.timing = {"per_layer_s": probed - began, "total_s": time.perf_counter() - began}
    return result


def _summary(
    results: list[FoldResult], labels: np.ndarray, classes: list[str], bootstrap: int, seed: int
) -> dict[str, Any]:
    test = np.concatenate([r.test for r in results])
    guess = np.concatenate([r.predicted for r in results])
    report = classification_report(labels[test], guess, classes, bootstrap=bootstrap, seed=seed)
    uar = report["summary"]["uar"]
    return {"uar": uar["value"], "ci_low": uar["ci_low"], "ci_high": uar["ci_high"],
            "wa": report["summary"]["wa"]["value"],
            "macro_f1": report["summary"]["macro_f1"]["value"],
            "best_params": [r.best_params for r in results]}  # fmt: skip


def run_probe(
    config: ExperimentConfig,
    *,
    probe: str = "ridge",
    weighted_sum: bool = True,
    progress: bool = True,
) -> tuple[Path, ProbeResult]:
    """Probe every layer of ``config.features.upstream`` under ``config.split``.

    Writes ``<output_dir>/<name>/probe/``: probe.json, layers.csv, layers.png, the resolved
    config and package versions. Features come from the cache (extracted once).
    """
    from emotransfer import registry
    from emotransfer.data.splits import audit_folds, speaker_keys
    from emotransfer.io import write_json, write_text
    from emotransfer.prepare import (
        experiment_folds,
        layer_features,
        prepare_manifest,
        result_folder,
    )
    from emotransfer.reporting.layers import layer_curve_figure
    from emotransfer.reporting.plots import save_figure

    folder = result_folder(config, Path(config.output_dir) / config.name / "probe")
    began = time.perf_counter()
    table, labels_info, skipped = prepare_manifest(config)
    features, table, extraction = layer_features(config, table, skipped, progress=progress)
    loaded = time.perf_counter() - began
    classes = sorted(table["emotion"].unique())
    labels = table["emotion"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    split = config.split
    folds = experiment_folds(config, table)
    audit = audit_folds(table, folds, kind=split.kind, allow_leakage=split.allow_leakage)
    head = registry.build("head", probe, plugins=config.plugins)
    result = probe_layers(
        features, labels, speaker_keys(table), folds, classes=classes, head=head,
        grid=dict(head.default_grid), inner_folds=config.head.inner_folds, seed=config.seed,
        bootstrap=config.evaluation.bootstrap, weighted_sum=weighted_sum, progress=progress,
    )  # fmt: skip
    result.timing["features_s"] = loaded
    result.timing["total_s"] = time.perf_counter() - began
    write_json(folder / "probe.json", {
        "experiment": config.name, "upstream": config.features.upstream,
        "params": config.features.params, "probe": probe, "classes": classes,
        "layers": result.layers, "selected": result.selected,
        "weighted_sum": result.weighted_sum, "audit": audit, "labels": labels_info,
        "skipped_files": skipped, "n_files": len(table),
        "normalization": extraction.normalization,
        "cache_hits": extraction.hits, "cache_misses": extraction.misses,
        "timing": result.timing,
    })  # fmt: skip
    rows = ["layer,uar,ci_low,ci_high,wa,macro_f1"] + [
        f"{r['layer']},{r['uar']:.4f},{r['ci_low']:.4f},{r['ci_high']:.4f},{r['wa']:.4f},"
        f"{r['macro_f1']:.4f}" for r in result.layers
    ]  # fmt: skip
    write_text(folder / "layers.csv", "\n".join(rows) + "\n")
    mixed = result.weighted_sum
    figure = layer_curve_figure(
        result.layers, selected_uar=result.selected["uar"],
        weighted_uar=mixed["uar"] if mixed else None,
        layer_weights=mixed["layer_weights"] if mixed else None,
        title=f"{config.name}: {config.features.upstream} layer-wise probe",
    )  # fmt: skip
    save_figure(figure, folder / "layers.png")
    return folder, result


def serve_chosen_layer(
    config: ExperimentConfig,
    result: ProbeResult,
    folder: Path,
    *,
    probe: str,
    progress: bool = False,
) -> Path:
    """A predictable run of the layer the inner folds chose most often (ties: the lower
    layer) with the probe head, in ``folder/chosen_layer``: the probe's finding as a model
    (``emotransfer predict``). The choice used only inner folds of each training fold, so the
    run's own LOSO figure for that layer is the one the probe reported for it.

    Returns:
        the run folder.
    """
    from collections import Counter

    from emotransfer.experiment import run

    counts = Counter(result.selected["layers_chosen"].values())
    layer = min(counts, key=lambda k: (-counts[k], k))
    chosen = config.model_copy(deep=True)
    chosen.features.layer = int(layer)
    chosen.head.name, chosen.head.params, chosen.head.grid = probe, {}, {}
    return run(chosen, run_dir=folder / "chosen_layer", progress=progress).run_dir


def serve_weighted_sum(config: ExperimentConfig, folder: Path, *, progress: bool = False) -> Path:
    """A predictable run of the probe's weighted layer sum, in ``folder/weighted_sum``: every
    hidden state (``features.layer: null``) mixed by the ``layer_sum`` head with the probe's
    settings (its default weight decay, no grid, the config's seed), so the run's LOSO figure
    is the probe's weighted-sum figure; its refit head is the servable model.

    Returns:
        the run folder.
    """
    from emotransfer.experiment import run

    mixed = config.model_copy(deep=True)
    mixed.features.layer = None
    default = LayerSumHead(seed=config.seed)
    mixed.head.name, mixed.head.params = "layer_sum", {"seed": config.seed}
    mixed.head.grid = {"weight_decay": [default.weight_decay]}  # one point: not tuned
    return run(mixed, run_dir=folder / "weighted_sum", progress=progress).run_dir
