"""Figure of a layer-wise adaptation analysis: representation and weight change per layer.

Example:
    >>> rows = [{"layer": 0, "cka": 1.0, "weight_change": 0.0},
    ...         {"layer": 1, "cka": 0.8, "weight_change": 0.05}]
    >>> [axes.get_ylabel() for axes in adaptation_figure(rows).axes]
    ['1 - CKA', 'relative weight change']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MISSING = float("nan")


def adaptation_figure(
    rows: Sequence[Mapping[str, float | None]], *, title: str = "Layer-wise adaptation"
) -> Figure:
    """Bars per hidden state: ``1 - CKA`` on top, relative weight change below (shared x).

    Args:
        rows: one mapping per hidden state with ``"layer"``, ``"cka"`` and
            ``"weight_change"`` (``None`` draws no bar), as in the ``"layers"`` of
            :func:`emotransfer.analysis.adaptation.adaptation_report`.
        title: figure title.

    Returns:
        the figure with two axes.

    Example:
        >>> figure = adaptation_figure([{"layer": 0, "cka": 0.9, "weight_change": None},
        ...                             {"layer": 1, "cka": 0.5, "weight_change": 0.2}])
        >>> [round(float(bar.get_height()), 2) for bar in figure.axes[0].patches]
        [0.1, 0.5]
    """
    layers = [int(row["layer"]) for row in rows]  # type: ignore[arg-type]
    change = [1.0 - float(row["cka"]) for row in rows]  # type: ignore[arg-type]
    weights = [_value(row.get("weight_change")) for row in rows]
    figure = Figure(figsize=(max(4.0, 0.35 * len(rows) + 2.0), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.bar(layers, change, color="tab:purple", alpha=0.8)
    top.set_ylabel("1 - CKA")
    top.set_ylim(bottom=0.0)
    top.set_title(title)
    bottom.bar(layers, weights, color="tab:orange", alpha=0.8)
    bottom.set_ylabel("relative weight change")
    bottom.set_ylim(bottom=0.0)
    bottom.set_xlabel("hidden state (0 = embedding)")
    bottom.set_xticks(layers)
    return figure


def _value(value: float | None) -> float:
    return MISSING if value is None else float(value)
