"""Training curves of a trained run: each fold's epochs read from its ``history.json`` (as
numbers only: a run folder is untrusted) and drawn as loss and validation UAR per epoch."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MISSING = float("nan")


def fold_histories(run_dir: Path) -> dict[str, list[dict[str, float]]]:
    """Each trained fold's epochs (``models/<fold>/history.json``), the refit's as
    ``refit``; a file that is not a list of records with numbers is left out (the folder is
    untrusted: nothing in it is more than numbers to plot)."""
    found = {}
    paths = [
        *sorted((run_dir / "models").glob("*/history.json")),
        run_dir / "refit" / "history.json",
    ]
    for path in paths:
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(records, list) or not records:
            continue
        kept = []
        for record in records:
            if not isinstance(record, dict):
                break
            numbers = {key: float(value) for key, value in record.items()
                       if key in ("epoch", "loss", "valid_uar") and _is_number(value)}  # fmt: skip
            if "loss" not in numbers:
                break
            kept.append(numbers)
        else:
            found["refit" if path.parent.name == "refit" else path.parent.name] = kept
    return found


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def training_curves_figure(histories: Mapping[str, Sequence[Mapping[str, object]]]) -> Figure:
    """Per fold, the training loss by epoch and, where validation ran, the validation UAR.

    Args:
        histories: fold name -> its epochs' records (``epoch``, ``loss``, optional
            ``valid_uar``), as a trained fold's ``history.json`` holds them.

    Returns:
        the figure: one axes for the loss, a second for the validation UAR when any fold
        has one.

    Example:
        >>> figure = training_curves_figure({"speaker=03": [{"epoch": 1, "loss": 1.2},
        ...                                                 {"epoch": 2, "loss": 0.7}]})
        >>> len(figure.axes), figure.axes[0].lines[0].get_ydata().tolist()
        (1, [1.2, 0.7])
    """
    validated = any(record.get("valid_uar") is not None
                    for records in histories.values() for record in records)  # fmt: skip
    figure = Figure(figsize=(9.0 if validated else 5.0, 3.5), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes = figure.add_subplot(1, 2 if validated else 1, 1)
    uar_axes = figure.add_subplot(1, 2, 2) if validated else None
    for name, records in histories.items():
        epochs = [float(r.get("epoch", i + 1)) for i, r in enumerate(records)]  # type: ignore[arg-type]
        losses = [float(r.get("loss", MISSING)) for r in records]  # type: ignore[arg-type]
        (line,) = loss_axes.plot(epochs, losses, marker=".", linewidth=1, label=name)
        if uar_axes is not None:
            scores = [MISSING if r.get("valid_uar") is None else float(r["valid_uar"])  # type: ignore[arg-type]
                      for r in records]  # fmt: skip
            uar_axes.plot(epochs, scores, marker=".", linewidth=1, color=line.get_color())
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss")
    loss_axes.set_title("Training loss per fold")
    if len(histories) <= 12:
        loss_axes.legend(fontsize=7)
    if uar_axes is not None:
        uar_axes.set_xlabel("epoch")
        uar_axes.set_ylabel("validation UAR")
        uar_axes.set_ylim(0.0, 1.0)
        uar_axes.set_title("Validation UAR per fold")
    return figure
