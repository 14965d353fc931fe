"""Self-contained HTML report of one run folder.

The runner leaves ``metrics.json``, ``predictions.csv``, ``config.yaml`` and
``versions.json`` in a run folder. :func:`write_report` turns them into ``report.html``: one
file with inline CSS and the figures embedded as base64 PNGs, so it can be mailed or archived
without the folder. Every string read from the files is HTML-escaped, and keys that a run did
not record are shown as missing instead of failing.

Example:
    >>> import json, tempfile
    >>> run_dir = Path(tempfile.mkdtemp())
    >>> _ = (run_dir / "metrics.json").write_text(json.dumps({"experiment": "demo"}))
    >>> "<h1>demo</h1>" in write_report(run_dir).read_text()
    True
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from emotransfer.io import write_text
from emotransfer.reporting.confounds import confound_section, speaker_label_figure
from emotransfer.reporting.curves import fold_histories, training_curves_figure
from emotransfer.reporting.plots import (
    confusion_matrix_figure,
    fold_figure,
    per_class_recall_figure,
    save_figure,
)

REPORT_NAME = "report.html"
FIGURE_TITLES = {
    "confusion_matrix.png": "Confusion matrix",
    "per_class_recall.png": "Per-class recall",
    "folds.png": "UAR per fold",
    "speaker_labels.png": "Clips per speaker and label (confound audit)",
    "training_curves.png": "Training curves (loss and validation UAR per epoch, per fold)",
}
HEADLINE_METRICS = {"uar": "UAR", "wa": "WA", "macro_f1": "Macro-F1"}
# Summary tables: key in metrics.json -> row label.
AUDIT_FIELDS = {
    "split": "split",
    "speaker_overlap": "speakers in train and test",
    "leakage_allowed": "leakage allowed",
    "ok": "ok",
    "note": "note",
}
LABEL_FIELDS = {"rows_before": "rows before", "rows_after": "rows after", "spec": "label spec",
                "dropped_labels": "labels dropped", "merged_into_other": "merged into other",
                "unlearnable": "unlearnable classes dropped",
                "speaker_near_duplicates": "speaker ids that look alike"}  # fmt: skip
DATA_FIELDS = {"corpora": "corpora", "n_files": "files", "n_speakers": "speakers"}
FEATURE_FIELDS = {
    "upstream": "upstream",
    "dim": "dimension",
    "normalization": "normalization",
    "cache_hits": "cache hits",
    "cache_misses": "cache misses",
}
HEAD_FIELDS = {"name": "head", "grid": "grid", "inner_cv": "inner cross-validation"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.headline { display: flex; gap: 1em; flex-wrap: wrap; }
.metric { border: 1px solid #ccc; border-radius: 6px; padding: 0.6em 1em; min-width: 12em; }
.metric .value { font-size: 1.8em; font-weight: bold; }
.audit { border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; border: 2px solid; }
.audit.ok { background: #e8f6ea; border-color: #2e7d32; }
.audit.leak { background: #fdecea; border-color: #c62828; }
.audit.unknown { background: #fff8e1; border-color: #f9a825; }
.missing { color: #888; font-style: italic; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 100%; }
"""


def _text(value: object) -> str:
    """Escaped text of a value read from the run folder; ``None`` shows as a dash."""
    return '<span class="missing">–</span>' if value is None else escape(str(value))


def _number(value: object, digits: int = 3) -> str:
    """A float with ``digits`` decimals; anything that is not a finite number is escaped as is."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:.{digits}f}"
    return _text(value)


def _estimate(estimate: object) -> str:
    """``value [ci_low, ci_high]`` of a ``{"value", "ci_low", "ci_high"}`` mapping."""
    if not isinstance(estimate, Mapping):
        return _number(estimate)
    interval = _interval(estimate)
    return _number(estimate.get("value")) + (f" {interval}" if interval else "")


def _interval(estimate: Mapping[str, Any]) -> str:
    """``[ci_low, ci_high]``, or an empty string when the run recorded no interval."""
    if "ci_low" not in estimate or "ci_high" not in estimate:
        return ""
    return f"[{_number(estimate['ci_low'])}, {_number(estimate['ci_high'])}]"


def _params(params: object) -> str:
    """``name=value`` pairs of a hyper-parameter mapping."""
    if not isinstance(params, Mapping) or not params:
        return _text(params or None)
    return ", ".join(f"{escape(str(key))}={escape(str(value))}" for key, value in params.items())


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """An HTML table; ``header`` is plain text, ``rows`` hold cells that are already HTML."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _key_values(mapping: Mapping[str, object], keys: Mapping[str, str]) -> str:
    """Two-column table of the chosen ``keys`` (key -> label) of ``mapping``."""
    rows = [(escape(label), _text(_plain(mapping.get(key)))) for key, label in keys.items()]
    return _table(["", "value"], rows)


def _plain(value: object) -> object:
    """Lists and mappings as compact JSON, so they read as data rather than Python reprs."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _section(title: str, body: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def _headline(metrics: Mapping[str, Any]) -> str:
    summary = metrics.get("summary") or {}
    estimates = {key: _mapping(summary.get(key)) for key in HEADLINE_METRICS}
    boxes = [
        f'<div class="metric"><div>{escape(label)}</div>'
        f'<div class="value">{_number(estimates[key].get("value"))}</div>'
        f"<div>95% CI {_interval(estimates[key]) or _text(None)}</div></div>"
        for key, label in HEADLINE_METRICS.items()
    ]
    return _section("Headline", f'<div class="headline">{"".join(boxes)}</div>')


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _audit(metrics: Mapping[str, Any]) -> str:
    """Green when no speaker leaked; red when leakage was allowed or a split leaked."""
    audit = _mapping(metrics.get("audit"))
    overlap = audit.get("speaker_overlap") or []
    if not audit:
        state, verdict = "unknown", "No leakage audit was recorded for this run."
    elif audit.get("leakage_allowed"):
        state, verdict = "leak", "WARNING: speaker leakage was allowed; results are optimistic."
    elif not audit.get("ok", False) or overlap:
        state, verdict = "leak", "WARNING: speakers appear in both train and test."
    else:
        state, verdict = "ok", "No speaker appears in both train and test."
    details = _key_values(
        {**audit, "speaker_overlap": ", ".join(map(str, overlap)) or "none"},
        AUDIT_FIELDS,
    )
    body = f'<div class="audit {state}"><strong>{escape(verdict)}</strong>{details}</div>'
    return _section("Leakage audit", body)


def _labels(metrics: Mapping[str, Any]) -> str:
    labels = _mapping(metrics.get("labels"))
    counts = _mapping(labels.get("classes"))
    table = _table(["class", "samples"], [(_text(name), _text(n)) for name, n in counts.items()])
    summary = _key_values(labels, LABEL_FIELDS)
    return _section("Labels", table + summary)


def _data(metrics: Mapping[str, Any]) -> str:
    data = _mapping(metrics.get("data"))
    summary = _key_values(
        {**data, "corpora": ", ".join(map(str, data.get("corpora") or [])) or None},
        DATA_FIELDS,
    )
    skipped = [_mapping(item) for item in data.get("skipped_files") or []]
    rows = [(_text(item.get("file")), _text(item.get("problem"))) for item in skipped]
    listing = _table(["skipped file", "problem"], rows) if rows else "<p>No files skipped.</p>"
    return _section("Data", summary + listing)


def _features_and_head(metrics: Mapping[str, Any]) -> str:
    features = _key_values(
        _mapping(metrics.get("features")),
        FEATURE_FIELDS,
    )
    head = _key_values(_mapping(metrics.get("head")), HEAD_FIELDS)
    chosen = Counter(
        _params(_mapping(fold).get("best_params")) for fold in metrics.get("folds") or []
    )
    choices = _table(["chosen hyper-parameters", "folds"], [(p, str(n)) for p, n in chosen.items()])
    return _section("Features and head", features + head + (choices if chosen else ""))


def _folds(metrics: Mapping[str, Any]) -> str:
    folds = [_mapping(fold) for fold in metrics.get("folds") or []]
    rows = [
        (
            _text(fold.get("fold")),
            _text(", ".join(map(str, fold.get("held_out") or [])) or None),
            _text(fold.get("n_train")),
            _text(fold.get("n_test")),
            _number(fold.get("uar")),
            _number(fold.get("wa")),
            _params(fold.get("best_params")),
        )
        for fold in folds
    ]
    header = ["fold", "held-out speaker(s)", "train", "test", "UAR", "WA", "best parameters"]
    return _section("Folds", _table(header, rows) if rows else "<p>No folds recorded.</p>")


def _per_class(metrics: Mapping[str, Any]) -> str:
    recall = _mapping(metrics.get("per_class_recall"))
    rows = [(_text(name), _estimate(estimate)) for name, estimate in recall.items()]
    return _section("Per-class recall", _table(["class", "recall [95% CI]"], rows))


def _dimensional(metrics: Mapping[str, Any]) -> str:
    dimensions = _mapping(metrics.get("dimensional"))
    rows = [
        (_text(dimension), _text(metric), _estimate(estimate))
        for dimension, scores in dimensions.items()
        for metric, estimate in _mapping(scores).items()
    ]
    if not rows:
        return ""
    return _section("Dimensional", _table(["dimension", "metric", "value [95% CI]"], rows))


def _timing(metrics: Mapping[str, Any]) -> str:
    timing = _mapping(metrics.get("timing"))
    rows = [(_text(name), _number(seconds, 1)) for name, seconds in timing.items()]
    return _section("Timing (s)", _table(["step", "seconds"], rows))


def _figures(paths: Sequence[Path]) -> str:
    """The PNGs as ``data:`` URIs, so the report needs no files beside it."""
    items = []
    for path in paths:
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        title = escape(FIGURE_TITLES.get(path.name, path.stem))
        items.append(
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{title}">'
            f"<figcaption>{title}</figcaption></figure>"
        )
    return _section("Figures", "".join(items) or "<p>No figures.</p>")


def _config(run_dir: Path) -> str:
    path = run_dir / "config.yaml"
    text = path.read_text(encoding="utf-8") if path.is_file() else None
    return _section("Resolved configuration", f"<pre>{_text(text)}</pre>")


def _versions(run_dir: Path) -> str:
    versions = _mapping(_read_json(run_dir / "versions.json"))
    rows = [(_text(name), _text(version)) for name, version in versions.items()]
    return _section("Package versions", _table(["package", "version"], rows))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _confusion_from_predictions(run_dir: Path, classes: Sequence[str]) -> list[list[int]]:
    """Rebuild the matrix from ``predictions.csv`` for runs whose metrics lack it."""
    path = run_dir / "predictions.csv"
    if not classes or not path.is_file():
        return []
    predictions = pd.read_csv(path, usecols=["true", "predicted"], dtype=str)
    table = pd.crosstab(predictions["true"], predictions["predicted"])
    return table.reindex(index=classes, columns=classes, fill_value=0).values.tolist()


def write_figures(run_dir: str | Path) -> list[Path]:
    """Save the run's figures as PNGs into ``run_dir``; a figure without data is skipped.

    Args:
        run_dir: run folder holding ``metrics.json`` (and ``predictions.csv``, used when the
            metrics carry no confusion matrix).

    Returns:
        paths of the written figures, out of ``confusion_matrix.png``,
        ``per_class_recall.png``, ``folds.png``, ``training_curves.png`` (a trained run's
        epochs) and ``speaker_labels.png``.

    Example:
        >>> import json, tempfile
        >>> run_dir = Path(tempfile.mkdtemp())
        >>> metrics = {"folds": [{"fold": "speaker=03", "uar": 0.8}]}
        >>> _ = (run_dir / "metrics.json").write_text(json.dumps(metrics))
        >>> [path.name for path in write_figures(run_dir)]
        ['folds.png']
    """
    run_dir = Path(run_dir)
    metrics = _mapping(_read_json(run_dir / "metrics.json"))
    classes = [str(name) for name in metrics.get("classes") or []]
    matrix = metrics.get("confusion_matrix") or _confusion_from_predictions(run_dir, classes)
    recall = _mapping(metrics.get("per_class_recall"))
    folds = [_mapping(fold) for fold in metrics.get("folds") or []]
    written = []
    if matrix and classes:
        figure = confusion_matrix_figure(matrix, classes)
        written.append(save_figure(figure, run_dir / "confusion_matrix.png"))
    if recall:
        written.append(
            save_figure(per_class_recall_figure(recall), run_dir / "per_class_recall.png")
        )
    if folds:
        written.append(save_figure(fold_figure(folds), run_dir / "folds.png"))
    histories = fold_histories(run_dir)
    if histories:
        curves = training_curves_figure(histories)
        written.append(save_figure(curves, run_dir / "training_curves.png"))
    speakers = speaker_label_figure(_mapping(metrics.get("confounds")))
    if speakers is not None:
        written.append(save_figure(speakers, run_dir / "speaker_labels.png"))
    return written


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` for a run folder, together with its figure PNGs.

    Args:
        run_dir: run folder written by the experiment runner.

    Returns:
        path of the report.

    Raises:
        FileNotFoundError: if ``run_dir`` is not a folder.

    Example:
        >>> import json, tempfile
        >>> run_dir = Path(tempfile.mkdtemp())
        >>> metrics = {"summary": {"uar": {"value": 0.81, "ci_low": 0.77, "ci_high": 0.85}}}
        >>> _ = (run_dir / "metrics.json").write_text(json.dumps(metrics))
        >>> "95% CI [0.770, 0.850]" in write_report(run_dir).read_text()
        True
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder not found: {run_dir}")
    metrics = _mapping(_read_json(run_dir / "metrics.json"))
    figures = write_figures(run_dir)
    title = _text(metrics.get("experiment", run_dir.name))
    sections = [
        f"<h1>{title}</h1>",
        f"<p>Created {_text(metrics.get('created'))} · seed {_text(metrics.get('seed'))}</p>",
        _headline(metrics),
        _audit(metrics),
        confound_section(metrics),
        _labels(metrics),
        _data(metrics),
        _features_and_head(metrics),
        _folds(metrics),
        _per_class(metrics),
        _figures(figures),
        _dimensional(metrics),
        _timing(metrics),
        _config(run_dir),
        _versions(run_dir),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )
    path = run_dir / REPORT_NAME
    write_text(path, page)
    return path
