"""Heat-map of per-emotion Fréchet Audio Distances between two sets of clips.

Example:
    >>> pair = {"a": "emodb", "b": "mer4q", "fad": 3.0, "rows": ["anger", "sadness"],
    ...         "columns": ["q1", "q2"], "matrix": [[2.0, 1.0], [3.0, 4.0]]}
    >>> len(fad_heatmap_figure(pair).axes)
    2
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from emotransfer.reporting.plots import _new_figure


def fad_heatmap_figure(pair: dict[str, Any], *, layer: int = -1, unit: str = "frames") -> Figure:
    """Rows: emotions of set ``a``; columns: emotions of set ``b``; the closest per row boxed."""
    matrix = np.asarray(pair["matrix"], dtype=float)
    rows, columns = pair["rows"], pair["columns"]
    figure, axes = _new_figure(1.2 + 0.9 * max(3, len(columns)), 1.2 + 0.6 * max(3, len(rows)))
    image = axes.imshow(matrix, cmap="viridis_r", aspect="auto")
    figure.colorbar(image, ax=axes, label="FAD (lower = closer)")
    middle = np.nanmean(matrix) if np.isfinite(matrix).any() else 0.0
    for i, row in enumerate(matrix):
        finite = np.isfinite(row)
        best = int(np.nanargmin(np.where(finite, row, np.nan))) if finite.any() else -1
        for j, value in enumerate(row):
            text = "-" if not np.isfinite(value) else f"{value:.1f}"
            axes.text(j, i, text, ha="center", va="center", fontsize=8,
                      fontweight="bold" if j == best else "normal",
                      color="white" if value > middle else "black")  # fmt: skip
    axes.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), labels=rows)
    axes.set_xlabel(pair["b"])
    axes.set_ylabel(pair["a"])
    axes.set_title(f"FAD {pair['a']} vs {pair['b']}: {pair['fad']:.2f} (layer {layer}, {unit})")
    return figure
