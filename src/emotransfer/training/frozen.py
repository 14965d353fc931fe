"""Training on frozen (cached, pooled) features: tune, fit, predict one outer fold."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from emotransfer.data.splits import Fold
from emotransfer.evaluation.metrics import uar, weighted_accuracy
from emotransfer.models.heads import Head
from emotransfer.models.normalize import Standardizer, column_scale
from emotransfer.models.tuning import select_params


@dataclass
class FoldResult:
    """Predictions for the fold's test rows and what was chosen on its training rows."""

    name: str
    test: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray | None
    best_params: dict[str, Any] = field(default_factory=dict)
    inner_scores: list[float] = field(default_factory=list)
    model: Any = None
    scaler: Any = None
    dimensions: dict[str, np.ndarray] | None = None  # joint predictions of a multitask head
    temperature: float | None = None  # fitted on inner folds (calibration "temperature")
    logits: np.ndarray | None = None  # a trained fold model's test logits (for calibration)


def run_fold(
    head: Head,
    grid: dict[str, list[Any]],
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    fold: Fold,
    *,
    inner_folds: int,
    seed: int,
    score_single: bool = False,
    test_features: np.ndarray | None = None,
    domains: np.ndarray | None = None,
    auxiliary: dict[str, np.ndarray] | None = None,
    targets: dict[str, np.ndarray] | None = None,
    calibration: str = "none",
    blocks: Sequence[int] = (),
) -> FoldResult:
    """Choose parameters on inner speaker splits of ``fold.train``, refit, predict ``fold.test``.

    Args:
        features: ``(N, D)`` pooled features of all rows.
        labels: ``(N,)`` class indices.
        groups: ``(N,)`` speaker keys, for inner speaker-independent validation.
        calibration: ``"temperature"``: probabilities are ``softmax(logits / T)`` with ``T``
            fitted on the chosen head's out-of-fold logits of the same inner splits
            (:mod:`emotransfer.models.calibration`; a head without an export keeps its own
            probabilities); ``"none"``: the head's own (an SVM: none).
        blocks: the widths of an early fusion's inputs in ``features``: a weight per input
            is chosen with the grid (``best_params["input_weights"]``) and kept in the
            fold's scaler (each input's standardised columns scaled by it).
    """
    train_features, train_labels = features[fold.train], labels[fold.train]
    best, scores = select_params(
        head,
        grid,
        train_features,
        train_labels,
        groups[fold.train],
        folds=inner_folds,
        seed=seed,
        score_single=score_single,
        blocks=blocks,
    )
    weights = best.get("input_weights")
    best_head = {name: value for name, value in best.items() if name != "input_weights"}
    scaler = Standardizer().fit(train_features)
    if weights is not None:  # (x - mean) / scale * weight, as the head was chosen with
        scaler.scale_ = scaler.scale_ / column_scale(blocks, tuple(weights[1:]),
                                                     features.shape[1])  # fmt: skip
    source = features if test_features is None else test_features
    test_features = scaler.transform(source[fold.test])
    model = clone(head).set_params(**best_head)
    options: dict[str, Any] = {}
    if "target_features" in inspect.signature(model.fit).parameters:
        # Domain-adaptive heads see the test rows' features, never their labels.
        options["target_features"] = test_features
        if domains is not None:
            options["domains"] = domains[fold.train]
    if auxiliary and "auxiliary" in inspect.signature(model.fit).parameters:
        options["auxiliary"] = {name: values[fold.train] for name, values in auxiliary.items()}
    joint = bool(targets) and "targets" in inspect.signature(model.fit).parameters
    if joint:
        # Multitask heads learn the dimensions (NaN = unknown) with the emotion classes.
        options["targets"] = {name: values[fold.train] for name, values in targets.items()}
    model.fit(scaler.transform(train_features), train_labels, **options)
    probabilities, temperature = None, None
    if calibration == "temperature":
        temperature, probabilities = _calibrated(
            head, best_head, model, train_features, train_labels, groups[fold.train], test_features,
            int(labels.max()) + 1, folds=inner_folds, seed=seed)  # fmt: skip
    if probabilities is None and hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(test_features)
        if probabilities.shape[1] != int(labels.max()) + 1:
            probabilities = None  # a class was missing from this training fold
    predicted = model.predict(test_features)
    dimensions = model.predict_dimensions(test_features) if joint else None
    return FoldResult(fold.name, fold.test, np.asarray(predicted), probabilities, best, scores,
                      model, scaler, dimensions, temperature)  # fmt: skip


def _calibrated(
    head: Head, best: dict[str, Any], model: Any, train_features: np.ndarray,
    train_labels: np.ndarray, train_groups: np.ndarray, test_features: np.ndarray,
    num_classes: int, *, folds: int, seed: int,
) -> tuple[float | None, np.ndarray | None]:  # fmt: skip
    """The temperature fitted on inner folds and the test rows' calibrated probabilities in
    the run's columns, or ``(None, None)`` for a head without an export."""
    from emotransfer.models.calibration import fit_temperature, inner_logits
    from emotransfer.models.export import ExportedHead, export_head

    try:
        arrays = export_head(model)
    except ValueError:
        return None, None
    logits, truth = inner_logits(head, best, train_features, train_labels, train_groups,
                                 folds=folds, seed=seed)  # fmt: skip
    temperature = fit_temperature(logits, truth)
    exported = ExportedHead({**arrays, "temperature": np.array([temperature])})
    return temperature, exported.class_probabilities(test_features, num_classes)


def fold_summary(result: FoldResult, fold: Fold, labels: np.ndarray, num_classes: int) -> dict:
    truth = labels[result.test]
    return {
        "fold": fold.name,
        "held_out": fold.held_out,
        "n_train": int(len(fold.train)),
        "n_test": int(len(fold.test)),
        "uar": uar(truth, result.predicted, num_classes),
        "wa": weighted_accuracy(truth, result.predicted),
        "best_params": result.best_params,
        "inner_scores": result.inner_scores,
        **({} if result.temperature is None else {"temperature": result.temperature}),
    }
