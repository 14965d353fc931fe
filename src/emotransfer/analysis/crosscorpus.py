"""``emotransfer crosscorpus``: train on each corpus, test on each corpus, and leave one out.

Off the diagonal a cell trains on every row of corpus A and tests on every row of corpus B
(different speakers by construction); the diagonal is corpus A's own leave-one-speaker-out
result; leave-one-corpus-out trains on all other corpora. Every cell tunes its head on
speaker-grouped inner folds of its training rows, and reports UAR with a bootstrap CI.
Corpora share the experiment's harmonised label set (e.g. 4 classes).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emotransfer.data.splits import Fold, make_folds, speaker_keys
from emotransfer.evaluation.metrics import classification_report
from emotransfer.training.frozen import run_fold

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


def corpus_folds(table: pd.DataFrame, train: list[str], test: str) -> list[Fold]:
    """Folds for one cell: LOSO inside ``test`` when it is the only training corpus."""
    corpora = table["corpus"].astype(str).to_numpy()
    if train == [test]:
        inside = np.flatnonzero(corpora == test)
        folds = make_folds(table.iloc[inside].reset_index(drop=True), kind="loso")
        return [Fold(f.name, inside[f.train], inside[f.test], f.held_out) for f in folds]
    rows_train = np.flatnonzero(np.isin(corpora, train))
    rows_test = np.flatnonzero(corpora == test)
    return [Fold(f"{'+'.join(train)}->{test}", rows_train, rows_test, [test])]


def run_crosscorpus(
    config: ExperimentConfig, *, progress: bool = True
) -> tuple[Path, dict[str, Any]]:
    """Write ``<output_dir>/<name>/crosscorpus/`` (crosscorpus.json, matrix heat-map)."""
    from emotransfer import registry
    from emotransfer.io import write_json
    from emotransfer.prepare import (
        auxiliary_labels,
        layer_features,
        prepare_manifest,
        result_folder,
    )
    from emotransfer.reporting.distances import fad_heatmap_figure
    from emotransfer.reporting.plots import save_figure

    if config.finetune is not None:
        raise ValueError(
            "crosscorpus fits heads on frozen features; a trained model (finetune section: an "
            "architecture, fine-tuning) goes cell by cell through `emotransfer run` with "
            "split.kind=cross_corpus, split.train_corpora=[A] and split.test_corpora=[B]"
        )
    began = time.perf_counter()
    folder = result_folder(config, Path(config.output_dir) / config.name / "crosscorpus")
    table, labels_info, skipped = prepare_manifest(config)
    features, table, extraction = layer_features(config, table, skipped, progress=progress)
    features = features[:, config.features.one_layer("crosscorpus")]
    corpora = sorted(table["corpus"].astype(str).unique())
    if len(corpora) < 2:
        raise ValueError(f"crosscorpus needs at least two corpora, have {corpora}")
    classes = sorted(table["emotion"].unique())
    labels = table["emotion"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    groups = speaker_keys(table)
    domains = table["corpus"].astype(str).map({c: i for i, c in enumerate(corpora)}).to_numpy()
    auxiliary = auxiliary_labels(config, table)
    head = registry.build("head", config.head.name, plugins=config.plugins, **config.head.params)
    grid = config.head.grid or dict(type(head).default_grid)

    def cell(train: list[str], test: str) -> dict[str, Any]:
        results = [run_fold(head, grid, features, labels, groups, fold,
                            inner_folds=config.head.inner_folds, seed=config.seed,
                            domains=domains, auxiliary=auxiliary)
                   for fold in corpus_folds(table, train, test)]  # fmt: skip
        rows = np.concatenate([r.test for r in results])
        guess = np.concatenate([r.predicted for r in results])
        rounds = config.evaluation.bootstrap
        report = classification_report(
            labels[rows], guess, classes, bootstrap=rounds, seed=config.seed
        )
        uar = report["summary"]["uar"]
        return {"train": train, "test": test, "uar": uar["value"], "ci_low": uar["ci_low"],
                "ci_high": uar["ci_high"], "n_test": int(len(rows))}  # fmt: skip

    matrix = [[cell([a], b) for b in corpora] for a in corpora]
    leave_one_out = [cell([c for c in corpora if c != b], b) for b in corpora]
    result = {"corpora": corpora, "classes": classes, "matrix": matrix,
              "leave_one_corpus_out": leave_one_out, "labels": labels_info,
              "upstream": config.features.upstream, "layer": config.features.layer,
              "normalization": extraction.normalization, "skipped_files": skipped,
              "seconds": time.perf_counter() - began}  # fmt: skip
    write_json(folder / "crosscorpus.json", result)
    pair = {"a": "train", "b": "test", "fad": float(np.mean([c["uar"] for c in leave_one_out])),
            "rows": corpora, "columns": corpora,
            "matrix": [[c["uar"] for c in row] for row in matrix]}  # fmt: skip
    figure = fad_heatmap_figure(pair, layer=config.features.layer, unit="UAR")
    figure.axes[0].set_title(f"{config.name}: UAR train (rows) -> test (columns)")
    figure.axes[1].set_ylabel("UAR (higher = better)")
    save_figure(figure, folder / "crosscorpus.png")
    return folder, result
