"""The confound audit in the run report: a verdict, the figures per grouping, and a speaker x
label heat-map (see :mod:`emotransfer.data.confounds`)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import numpy as np
from matplotlib.figure import Figure

# Heat-maps of more speakers than this show the most confounded ones (a corpus of hundreds).
MAX_ROWS = 60
FIELDS = {"groups": "groups", "one_label_count": "showing one emotion",
          "one_label_clips": "share of clips in them", "classes_per_group": "classes per group",
          "mutual_information": "mutual information (bits)",
          "mi_share": "share of the label's entropy"}  # fmt: skip


def confound_section(metrics: Mapping[str, Any]) -> str:
    """HTML: green when no grouping shows one emotion per group, amber otherwise, with the
    figures of every grouping audited and the audit's notes."""
    audit = metrics.get("confounds")
    if not isinstance(audit, Mapping):
        return ""
    state = "unknown" if audit.get("warn") else "ok"
    verdict = ("WARNING: labels follow the speakers (or sentences); a model can score by "
               "recognising them, and per-speaker normalisation removes the emotion."
               if audit.get("warn") else "Every speaker shows several emotions.")  # fmt: skip
    groups = audit.get("groups") if isinstance(audit.get("groups"), Mapping) else {}
    header = "".join(f"<th>{escape(label)}</th>" for label in ["grouping", *FIELDS.values()])
    rows = "".join(
        "<tr>" + f"<td>{escape(str(name))}</td>"
        + "".join(f"<td>{escape(str(figures.get(key, '')))}</td>" for key in FIELDS) + "</tr>"
        for name, figures in groups.items() if isinstance(figures, Mapping)
    )  # fmt: skip
    notes = "".join(f"<li>{escape(str(note))}</li>" for note in audit.get("notes") or [])
    chosen = metrics.get("features", {}).get("normalization_chosen") or {}
    choice = ""
    if isinstance(chosen, Mapping) and chosen.get("chosen"):
        choice = (f"<p>Normalisation: {escape(str(chosen.get('requested')))} &rarr; "
                  f"<strong>{escape(str(chosen['chosen']))}</strong> "
                  f"({escape(str(chosen.get('reason', '')))})</p>")  # fmt: skip
    body = (f'<div class="audit {state}"><strong>{escape(verdict)}</strong>'
            f"<table><tr>{header}</tr>{rows}</table><ul>{notes}</ul>{choice}</div>")  # fmt: skip
    return f"<section><h2>Confound audit</h2>{body}</section>"


def speaker_label_figure(audit: Mapping[str, Any]) -> Figure | None:
    """Heat-map of clip counts, speakers x labels, each row as shares of the speaker's clips
    (the most one-sided speakers first when there are more than :data:`MAX_ROWS`); ``None``
    without a speaker grouping."""
    groups = audit.get("groups") if isinstance(audit.get("groups"), Mapping) else {}
    speaker = groups.get("speaker")
    if not isinstance(speaker, Mapping) or not speaker.get("distribution"):
        return None
    distribution = speaker["distribution"]
    labels = sorted({name for row in distribution.values() for name in row})
    names = list(distribution)
    counts = np.array([[distribution[n].get(label, 0) for label in labels] for n in names], float)
    shares = counts / counts.sum(axis=1, keepdims=True)
    order = np.argsort(-shares.max(axis=1), kind="stable")[:MAX_ROWS]
    figure = Figure(figsize=(1.2 + 0.7 * len(labels), 1.2 + 0.22 * len(order)))
    axes = figure.add_subplot()
    image = axes.imshow(shares[order], cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(order)), [names[i] for i in order], fontsize=7)
    for row, index in enumerate(order):
        for column in range(len(labels)):
            if counts[index, column]:
                colour = "white" if shares[index, column] > 0.6 else "black"
                axes.text(column, row, int(counts[index, column]), ha="center", va="center",
                          fontsize=6, color=colour)  # fmt: skip
    axes.set_title("clips per speaker and label (colour: share of the speaker's clips)",
                   fontsize=8)  # fmt: skip
    figure.colorbar(image, ax=axes, fraction=0.05)
    figure.tight_layout()
    return figure
