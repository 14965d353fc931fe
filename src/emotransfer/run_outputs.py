"""What a run reports beside its classification metrics: the per-clip predictions table, the
dimensional (arousal, valence, dominance) CCC on the same folds, and the average training
speaker's feature statistics a Predictor standardises a clip of no declared speaker with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emotransfer.config import ExperimentConfig
from emotransfer.data.split_disjoint import content_values
from emotransfer.data.splits import Fold, speaker_keys
from emotransfer.evaluation.metrics import ccc_report
from emotransfer.io import write_atomic
from emotransfer.run_files import SPEAKER_STATS
from emotransfer.training.frozen import FoldResult
from emotransfer.training.multistage import multistage_fold
from emotransfer.training.regression import DEFAULT_ALPHAS, run_regression_fold


def dimension_values(table: pd.DataFrame, names: list[str]) -> np.ndarray:
    """``(N, K)``: the manifest's values of the dimensions ``names`` (NaN: unknown).

    Raises:
        ValueError: a dimension has no column, or no row with a value.
    """
    missing = [name for name in names if name not in table]
    if missing:
        raise ValueError(f"evaluation.dimensions {missing}: the manifest has no such column "
                         f"(columns: {sorted(table.columns)})")  # fmt: skip
    values = np.stack([table[name].to_numpy(dtype=float) for name in names], axis=1)
    empty = [name for k, name in enumerate(names) if np.isnan(values[:, k]).all()]
    if empty:
        raise ValueError(f"evaluation.dimensions: no row has a value of {empty}")
    return values


def dimensional_report(
    config: ExperimentConfig,
    features: np.ndarray,
    table: pd.DataFrame,
    folds: list[Fold],
    predictions: pd.DataFrame,
    results: list[FoldResult],
    *,
    blocks: list[int] | None = None,
) -> dict[str, Any]:
    """CCC with a CI per requested dimension on the same folds: the multitask head's joint
    predictions when it learned the dimension, else a ridge regression per dimension (an
    early fusion's input ``blocks`` weighted on inner folds), or the multistage fusion of
    the ``blocks`` (``evaluation.dimension_fusion``)."""
    groups = speaker_keys(table)
    content = None  # a split that holds content out tunes on inner folds that do too
    if config.split.kind == "disjoint":
        content = content_values(table, config.split.content)
    values = dimension_values(table, list(config.evaluation.dimensions))
    position = {
        (f.name, int(i)): n
        for n, (f, i) in enumerate((fold, index) for fold in folds for index in fold.test)
    }
    staged = None  # a multistage fusion predicts every dimension of a fold at once
    if config.evaluation.dimension_fusion == "multistage" and isinstance(features, np.ndarray):
        staged = [multistage_fold(features, values, groups, fold, blocks=blocks or (),
                                  inner_folds=config.head.inner_folds, seed=config.seed,
                                  content=content) for fold in folds]  # fmt: skip
    result = {}
    for k, (dimension, targets) in enumerate(zip(config.evaluation.dimensions, values.T)):
        truth, guess, column = [], [], np.full(len(predictions), np.nan)
        joint = all(r.dimensions and dimension in r.dimensions for r in results)
        if not joint and not isinstance(features, np.ndarray):
            raise ValueError(f"evaluation.dimensions: a fold of this trained run has no "
                             f"{dimension!r} predictions (trained before the dimension was "
                             "asked for?): rerun it with --force")  # fmt: skip
        for f, (fold, fold_result) in enumerate(zip(folds, results)):
            if joint:
                known = ~np.isnan(targets[fold.test])
                rows = fold.test[known]
                predicted = fold_result.dimensions[dimension][known]  # type: ignore[index]
            elif staged is not None:
                rows, predicted = staged[f][k]
            else:
                rows, predicted, _ = run_regression_fold(
                    features,
                    targets,
                    groups,
                    fold,
                    alphas=DEFAULT_ALPHAS,
                    inner_folds=config.head.inner_folds,
                    seed=config.seed,
                    blocks=blocks or (),
                    content=content,
                )
            truth.append(targets[rows])
            guess.append(predicted)
            for row, value in zip(rows, predicted):
                column[position[(fold.name, int(row))]] = value
        predictions[f"pred_{dimension}"] = column
        report = ccc_report(
            np.concatenate(truth),
            np.concatenate(guess),
            bootstrap=config.evaluation.bootstrap,
            confidence=config.evaluation.confidence,
            seed=config.seed,
        )
        result[dimension] = {"ccc": report, "n": int(sum(len(t) for t in truth)),
                             "model": _value_model(config, joint)}  # fmt: skip
    return result


def _value_model(config: ExperimentConfig, joint: bool) -> str:
    if not joint:
        multistage = config.evaluation.dimension_fusion == "multistage"
        return "multistage (ridge per input, then ridge)" if multistage else "ridge"
    return "multitask head (joint)" if config.finetune is None else "dimensional head (joint)"


def fold_predictions(
    table: pd.DataFrame, results: list[FoldResult], classes: list[str], labels: np.ndarray
) -> pd.DataFrame:
    """The ``predictions.csv`` table of fold results: clip, speaker, fold, true and predicted
    class, and ``prob_<class>`` where the head gave probabilities."""
    parts = []
    for result in results:
        rows = table.iloc[result.test]
        part = pd.DataFrame(
            {
                "file": rows["file"].to_numpy(),
                "start": rows["start"].to_numpy(),
                "end": rows["end"].to_numpy(),
                "corpus": rows["corpus"].to_numpy(),
                "speaker": rows["speaker"].to_numpy(),
                "fold": result.name,
                "true": [classes[i] for i in labels[result.test]],
                "predicted": [classes[i] for i in result.predicted],
            }
        )
        if result.probabilities is not None:
            for i, name in enumerate(classes):
                part[f"prob_{name}"] = result.probabilities[:, i]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def save_speaker_statistics(
    folder: Path, stats: tuple[np.ndarray, np.ndarray] | None
) -> None:  # fmt: skip
    """Write ``stats`` (mean and scale, ``(L + 1, D)``) as ``SPEAKER_STATS``; with ``None``
    (no per-speaker normalisation) remove an old one."""
    path = folder / SPEAKER_STATS
    if stats is None:
        path.unlink(missing_ok=True)
        return
    from safetensors.numpy import save_file

    mean, scale = (np.ascontiguousarray(a, dtype=np.float64) for a in stats)
    write_atomic(path, lambda staging: save_file({"mean": mean, "scale": scale}, str(staging)))
