"""Figure of a layer-wise probe: UAR per hidden state with its interval, and layer weights.

Example:
    >>> layers = [{"layer": 0, "uar": 0.5, "ci_low": 0.4, "ci_high": 0.6},
    ...           {"layer": 1, "uar": 0.7, "ci_low": 0.6, "ci_high": 0.8}]
    >>> len(layer_curve_figure(layers, layer_weights=[0.3, 0.7]).axes)
    2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from emotransfer.reporting.plots import _new_figure


def layer_curve_figure(
    layers: Sequence[Mapping[str, float]],
    *,
    selected_uar: float | None = None,
    weighted_uar: float | None = None,
    layer_weights: Sequence[float] | None = None,
    title: str = "Layer-wise probe",
) -> Figure:
    """UAR per layer (line with CI band); dashed lines for the chosen-layer and weighted-sum UAR;
    the learned layer weights as bars on a second axis."""
    figure, axes = _new_figure(6.0, 3.8)
    index = [int(row["layer"]) for row in layers]
    uar = [float(row["uar"]) for row in layers]
    low = [float(row.get("ci_low") or row["uar"]) for row in layers]
    high = [float(row.get("ci_high") or row["uar"]) for row in layers]
    if layer_weights is not None:
        weights_axes = axes.twinx()
        weights_axes.bar(index, layer_weights, color="tab:gray", alpha=0.3, label="layer weight")
        weights_axes.set_ylabel("softmax layer weight")
        weights_axes.set_ylim(0, max(1e-6, max(layer_weights)) * 2.2)
        axes.set_zorder(weights_axes.get_zorder() + 1)
        axes.patch.set_visible(False)
    axes.fill_between(index, low, high, color="tab:blue", alpha=0.2, label="95% CI")
    axes.plot(index, uar, marker="o", color="tab:blue", label="probe per layer")
    if selected_uar is not None:
        axes.axhline(selected_uar, color="tab:green", linestyle="--",
                     label=f"layer chosen on inner folds {selected_uar:.3f}")  # fmt: skip
    if weighted_uar is not None:
        axes.axhline(weighted_uar, color="tab:red", linestyle=":",
                     label=f"weighted layer sum {weighted_uar:.3f}")  # fmt: skip
    axes.set_xlabel("hidden state (0 = embedding)")
    axes.set_ylabel("UAR")
    axes.set_xticks(index)
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=7)
    return figure
