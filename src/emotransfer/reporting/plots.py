"""Figures of a finished run: confusion matrix, per-class recall, and per-fold UAR.

Each function builds and returns a :class:`matplotlib.figure.Figure` on the Agg canvas, so
nothing depends on (or changes) pyplot's global backend and no window ever opens.
:func:`save_figure` writes one to a PNG file atomically.

Example:
    >>> figure = confusion_matrix_figure([[3, 1], [0, 4]], ["anger", "neutral"])
    >>> len(figure.axes)  # the matrix and its colour bar
    2
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emotransfer.io import write_atomic

MISSING = float("nan")


def _new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure attached to an Agg canvas, with one axes."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _row_percentages(counts: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 100; a row without samples stays all zero instead of NaN."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(100.0 * counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_matrix_figure(
    matrix: Sequence[Sequence[float]], classes: Sequence[str], *, normalize: bool = True
) -> Figure:
    """Heat map of a confusion matrix (rows = true class, columns = predicted class).

    Args:
        matrix: square matrix of counts, ordered like ``classes``.
        classes: class names.
        normalize: colour by row percentages (each true class sums to 100 %) and write the
            raw count under each percentage; otherwise colour and annotate counts only.

    Returns:
        the figure (matrix axes plus colour bar).

    Raises:
        ValueError: if the matrix is not square with one row per class.

    Example:
        >>> figure = confusion_matrix_figure([[5, 0], [0, 0]], ["anger", "sadness"])
        >>> [text.get_text() for text in figure.axes[0].texts][:2]
        ['100.0%\\n(5)', '0.0%\\n(0)']
    """
    counts = np.asarray(matrix, dtype=float)
    if counts.shape != (len(classes), len(classes)):
        raise ValueError(
            f"confusion matrix shape {counts.shape} does not fit {len(classes)} classes"
        )
    shown = _row_percentages(counts) if normalize else counts
    size = max(4.0, 0.9 * len(classes) + 2.0)
    figure, axes = _new_figure(size + 1.0, size)
    image = axes.imshow(shown, cmap="Blues", vmin=0.0, vmax=100.0 if normalize else None)
    figure.colorbar(image, ax=axes, label="% of true class" if normalize else "count")
    threshold = (100.0 if normalize else max(float(shown.max()), 1.0)) / 2
    for row, column in np.ndindex(*shown.shape):
        count = f"{counts[row, column]:g}"
        text = f"{shown[row, column]:.1f}%\n({count})" if normalize else count
        colour = "white" if shown[row, column] > threshold else "black"
        axes.text(column, row, text, ha="center", va="center", color=colour, fontsize=8)
    ticks = range(len(classes))
    axes.set_xticks(ticks, labels=list(classes), rotation=45, ha="right")
    axes.set_yticks(ticks, labels=list(classes))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("Confusion matrix" + (" (row %)" if normalize else ""))
    return figure


def _value_and_errors(estimate: Mapping[str, float]) -> tuple[float, float, float]:
    """Point value and the distances down to ``ci_low`` and up to ``ci_high`` (NaN if absent,
    e.g. ``None`` when the run had ``evaluation.bootstrap: 0``)."""

    def number(key: str) -> float:
        found = estimate.get(key)
        return MISSING if found is None else float(found)

    value, low, high = number("value"), number("ci_low"), number("ci_high")
    return value, max(value - low, 0.0), max(high - value, 0.0)


def per_class_recall_figure(per_class_recall: Mapping[str, Mapping[str, float]]) -> Figure:
    """Bar per class with its recall and 95 % confidence interval, plus the chance level.

    Args:
        per_class_recall: class name -> ``{"value": ..., "ci_low": ..., "ci_high": ...}``;
            a missing interval draws no error bar.

    Returns:
        the figure with one axes; the dashed line is chance, ``1 / number of classes``.

    Example:
        >>> figure = per_class_recall_figure({
        ...     "anger": {"value": 0.9, "ci_low": 0.8, "ci_high": 0.95},
        ...     "sadness": {"value": 0.6},
        ... })
        >>> len(figure.axes), figure.axes[0].get_legend_handles_labels()[1]
        (1, ['chance'])
    """
    classes = list(per_class_recall)
    estimates = [_value_and_errors(per_class_recall[name]) for name in classes]
    values = [value for value, _, _ in estimates]
    errors = [[below for _, below, _ in estimates], [above for _, _, above in estimates]]
    figure, axes = _new_figure(max(4.0, 0.7 * len(classes) + 2.0), 3.5)
    positions = range(len(classes))
    axes.bar(positions, values, yerr=errors, capsize=4, color="tab:blue", alpha=0.8)
    if classes:
        axes.axhline(1 / len(classes), color="grey", linestyle="--", label="chance")
        axes.legend(loc="lower right")
    axes.set_xticks(positions, labels=classes, rotation=45, ha="right")
    axes.set_ylim(0.0, 1.0)
    axes.set_ylabel("recall (95% CI)")
    axes.set_title("Per-class recall")
    return figure


def fold_figure(folds: Sequence[Mapping[str, object]]) -> Figure:
    """UAR of each fold as a bar labelled with the fold name, and the mean over folds.

    Args:
        folds: one mapping per fold with ``"fold"`` (name) and ``"uar"``; a missing UAR is
            left out of the mean.

    Returns:
        the figure with one axes.

    Example:
        >>> figure = fold_figure([{"fold": "speaker=03", "uar": 0.8},
        ...                       {"fold": "speaker=08", "uar": 0.6}])
        >>> len(figure.axes), round(figure.axes[0].lines[0].get_ydata()[0], 2)
        (1, 0.7)
    """
    names = [str(fold.get("fold", index)) for index, fold in enumerate(folds)]
    scores = [float(fold.get("uar", MISSING)) for fold in folds]  # type: ignore[arg-type]
    figure, axes = _new_figure(max(4.0, 0.45 * len(folds) + 2.0), 3.5)
    positions = range(len(folds))
    axes.bar(positions, scores, color="tab:green", alpha=0.8)
    finite = [score for score in scores if math.isfinite(score)]
    if finite:
        mean = sum(finite) / len(finite)
        axes.axhline(mean, color="black", linestyle="--", label=f"mean {mean:.3f}")
        axes.legend(loc="lower right")
    axes.set_xticks(positions, labels=names, rotation=60, ha="right", fontsize=8)
    axes.set_ylim(0.0, 1.0)
    axes.set_ylabel("UAR")
    axes.set_title("UAR per fold")
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as a PNG atomically, then close it to free its memory.

    The image goes to a temporary file in the same folder first and is moved into place with
    :func:`os.replace`, so a reader never sees half a file.

    Args:
        figure: the figure to write.
        path: target file; its folder must exist.

    Returns:
        the written path.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> path = save_figure(fold_figure([{"fold": "a", "uar": 0.5}]), Path(folder) / "f.png")
        >>> path.read_bytes()[:4]
        b'\\x89PNG'
    """
    path = Path(path)
    try:
        write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    finally:
        _close(figure)
    return path


def _close(figure: Figure) -> None:
    """Drop the figure's artists; also unregister it if pyplot happens to manage it."""
    # Figures built here never touch pyplot; only a caller's pyplot figure needs closing there,
    # and importing pyplot just for that would pick a global backend as a side effect.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)
    figure.clear()
