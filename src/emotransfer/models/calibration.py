"""Calibrated probabilities: temperature scaling on held-out logits (frozen-feature heads: inner
folds; trained fold models: the other outer folds, see :func:`cross_fitted`).

A head's logits (:meth:`emotransfer.models.export.ExportedHead.class_logits`) are divided by one
temperature ``T`` before the softmax; ``T`` minimises the negative log-likelihood of the
out-of-fold logits of the same head, with the same parameters, on the speaker-grouped inner
splits of the training rows (Guo et al., "On calibration of modern neural networks", ICML 2017;
scikit-learn's ``CalibratedClassifierCV`` fits its sigmoid the same way, on cross-validation
folds of the training data). The test speakers never take part. One parameter keeps the
ranking of every head's classes, so predictions and UAR do not change; an SVM's
probabilities stop being one vote.

Example:
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(0, 2, (2000, 3))  # labels drawn from their softmax:
    >>> p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    >>> labels = (p.cumsum(1) > rng.random((2000, 1))).argmax(1)
    >>> round(fit_temperature(4 * logits, labels), 1)  # four times too confident
    4.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from emotransfer.data.splits import inner_splits
from emotransfer.models.normalize import Standardizer

BOUNDS = (1e-3, 1e3)  # the temperatures searched


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in :data:`BOUNDS` that minimises the mean negative log-likelihood of
    ``softmax(logits / T)`` for ``labels``.

    Args:
        logits: ``(N, C)``; ``-inf`` for a class the scoring head never saw (rows whose own
            class is ``-inf`` are left out: no temperature reaches them).
        labels: ``(N,)`` class indices.

    Returns:
        ``T``; 1.0 when no row can be used or every row is already certain.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    usable = np.isfinite(logits[np.arange(len(labels)), labels])
    logits, labels = logits[usable], labels[usable]
    if not len(labels):
        return 1.0
    shifted = logits - logits.max(axis=1, keepdims=True)  # <= 0, -inf kept
    own = shifted[np.arange(len(labels)), labels]
    finite = np.where(np.isfinite(shifted), shifted, 0.0)
    present = np.isfinite(shifted)

    def loss(log_inverse: float) -> float:
        inverse = np.exp(log_inverse)
        total = (np.exp(finite * inverse) * present).sum(axis=1)
        return float(np.mean(np.log(total) - own * inverse))

    low, high = np.log(1 / BOUNDS[1]), np.log(1 / BOUNDS[0])
    found = minimize_scalar(loss, bounds=(low, high), method="bounded", options={"xatol": 1e-5})
    # NLL is convex in 1/T: a minimum at the upper bound means the rows are separable.
    return float(1 / np.exp(found.x))


def inner_logits(
    head: Any,
    params: dict[str, Any],
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    folds: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold logits of ``head`` with ``params`` on the inner speaker splits that chose
    them (:func:`emotransfer.data.splits.inner_splits`), each split standardised on its own
    training rows as the grid search does.

    Returns:
        ``(logits, labels)``: ``(M, C)`` logits in the run's class columns (``-inf`` for a
        class an inner training split lacked) and the ``(M,)`` labels of those rows.

    Raises:
        ValueError: the head has no export (no logits to calibrate).
    """
    from emotransfer.models.export import ExportedHead, export_head

    num_classes = int(labels.max()) + 1
    parts, truths = [], []
    for train, valid in inner_splits(groups, labels, folds=folds, seed=seed):
        if len(np.unique(labels[train])) < 2:
            continue  # a split of one class has no logits to calibrate
        scaler = Standardizer().fit(features[train])
        model = clone(head).set_params(**params)
        model.fit(scaler.transform(features[train]), labels[train])
        exported = ExportedHead(export_head(model))
        parts.append(exported.class_logits(scaler.transform(features[valid]), num_classes))
        truths.append(labels[valid])
    if not parts:
        return np.zeros((0, num_classes)), np.zeros(0, dtype=np.int64)
    return np.concatenate(parts), np.concatenate(truths)


def cross_fitted(
    logits: list[np.ndarray], labels: list[np.ndarray]
) -> tuple[float, list[float]]:  # fmt: skip
    """Temperatures for models trained per outer fold, from their held-out logits.

    A trained fold model is calibrated on the test rows of the other folds (scikit-learn's
    ``CalibratedClassifierCV(ensemble=False)`` fits its calibrator on cross-validated
    predictions in the same way): fold ``k``'s temperature is fitted on every other fold's
    logits, so its calibrated probabilities are still out of fold; the run's temperature, for
    the models it serves, on all of them.

    Args:
        logits: per fold, its test rows' ``(N_k, C)`` logits.
        labels: per fold, their ``(N_k,)`` class indices.

    Returns:
        ``(temperature, per_fold)``: the run's temperature and one per fold (1.0 for a fold
        with no other fold to fit on).
    """
    every = fit_temperature(np.concatenate(logits), np.concatenate(labels))
    per_fold = []
    for number in range(len(logits)):
        others = [k for k in range(len(logits)) if k != number]
        per_fold.append(fit_temperature(np.concatenate([logits[k] for k in others]),
                                        np.concatenate([labels[k] for k in others]))
                        if others else 1.0)  # fmt: skip
    return every, per_fold


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``-log p(label)`` (probabilities clipped at 1e-12, so one vote of 0 costs 27.6)."""
    own = np.asarray(probabilities)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.clip(own, 1e-12, None))))


def calibration_error(probabilities: np.ndarray, labels: np.ndarray, *, bins: int = 15) -> float:
    """Expected calibration error of the top class: over ``bins`` equal-width confidence bins,
    the row-weighted mean gap between confidence and accuracy (Guo et al. 2017).

    Example:
        >>> calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]))
        0.4
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for number in np.unique(edges):
        rows = edges == number
        gap += rows.sum() * abs(confidence[rows].mean() - correct[rows].mean())
    return round(float(gap / max(len(labels), 1)), 12)


def calibration_report(labels: np.ndarray, probabilities: np.ndarray, method: str) -> dict:
    """How well the out-of-fold probabilities of a run are calibrated (metrics.json
    ``calibration``): the method, the mean negative log-likelihood and the expected
    calibration error (15 bins)."""
    return {"method": method,
            "nll": round(negative_log_likelihood(probabilities, labels), 6),
            "ece": round(calibration_error(probabilities, labels), 6)}  # fmt: skip
