"""Bar chart of a study: UAR per variant with its 95% interval.

Example:
    >>> rows = [{"variant": "a", "uar": 0.7, "ci_low": 0.6, "ci_high": 0.8},
    ...         {"variant": "b", "uar": 0.5, "ci_low": None, "ci_high": None}]
    >>> len(study_figure(rows).axes)
    1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from emotransfer.reporting.plots import _new_figure


def study_figure(rows: Sequence[dict[str, Any]], *, title: str = "study") -> Figure:
    figure, axes = _new_figure(max(4.0, 1.0 + 0.9 * len(rows)), 3.6)
    values = [float(r["uar"]) for r in rows]
    lows = [v - (r["ci_low"] if r.get("ci_low") is not None else v) for v, r in zip(values, rows)]
    highs = [(r["ci_high"] if r.get("ci_high") is not None else v) - v
             for v, r in zip(values, rows)]  # fmt: skip
    positions = range(len(rows))
    axes.bar(positions, values, yerr=[lows, highs], capsize=4, color="tab:purple", alpha=0.8)
    for position, value in zip(positions, values):
        axes.text(position, value + 0.02, f"{value:.3f}", ha="center", fontsize=8)
    axes.set_xticks(positions, labels=[r["variant"] for r in rows], rotation=30, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("UAR (95% CI)")
    axes.set_title(title)
    return figure
