"""Build the experiment's manifest from its corpus list and label choice."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd

from emotransfer import registry
from emotransfer.data.labels import LabelSpec, apply_labels, label_summary


def load_corpora(
    corpora: list[dict], *, on_missing: str = "raise", plugins: Collection[str] = ()
) -> tuple[pd.DataFrame, list]:
    """Concatenate the manifests of ``[{name, root, params}]``; handle files that do not exist.

    Returns:
        The manifest and a list of ``{"file", "problem"}`` for rows skipped as missing.

    Raises:
        ValueError: no corpus configured, or a corpus is empty.
        FileNotFoundError: missing files (listed) and ``on_missing="raise"``.
    """
    if not corpora:
        raise ValueError(
            "data.corpora is empty: name at least one corpus (see `emotransfer corpora`)"
        )
    tables = []
    for entry in corpora:
        corpus = registry.build(
            "corpus", entry["name"], plugins=plugins, root=entry["root"], **entry.get("params", {})
        )
        table = _select_speakers(corpus.load(), entry)
        if table.empty:
            raise ValueError(f"corpus {entry['name']!r} at {entry['root']}: no rows")
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    exists = table["file"].map(lambda f: Path(f).is_file())
    skipped = [{"file": f, "problem": "file does not exist"} for f in table.loc[~exists, "file"]]
    if skipped and on_missing == "raise":
        shown = "\n  ".join(s["file"] for s in skipped[:20])
        raise FileNotFoundError(
            f"{len(skipped)} manifest file(s) do not exist (set data.audio.on_error=skip to "
            f"skip them):\n  {shown}"
        )
    return table[exists].reset_index(drop=True), skipped


def _select_speakers(table: pd.DataFrame, entry: dict) -> pd.DataFrame:
    """Apply a corpus entry's ``speakers`` (keep) and ``exclude_speakers`` lists; a named
    speaker the corpus does not have is an error (a typo would silently change the data)."""
    speakers = table["speaker"].astype(str)
    for key in ("speakers", "exclude_speakers"):
        named = [str(s) for s in entry.get(key) or []]
        unknown = sorted(set(named) - set(speakers))
        if unknown:
            raise ValueError(f"corpus {entry['name']!r} at {entry['root']}: {key} {unknown} "
                             f"not in the corpus; it has {sorted(set(speakers))[:20]}")  # fmt: skip
    keep = speakers.isin([str(s) for s in entry.get("speakers") or []] or speakers)
    keep &= ~speakers.isin([str(s) for s in entry.get("exclude_speakers") or []])
    return table[keep].reset_index(drop=True)


def select_labels(table: pd.DataFrame, spec: LabelSpec) -> tuple[pd.DataFrame, dict]:
    """Apply the label set; fail when fewer than two classes remain or a class is unknown."""
    present = set(table["emotion"].map(str))
    selected = apply_labels(table, spec)
    unknown = [c for c in spec.classes if c not in set(selected["emotion"])]
    if unknown:
        raise ValueError(
            f"data.labels.classes {unknown} have no rows; labels present: {sorted(present)}"
        )
    if selected["emotion"].nunique() < 2:
        raise ValueError(f"need at least 2 classes after label selection, have {sorted(present)}")
    summary = label_summary(selected, table)
    summary["spec"] = {"classes": spec.classes, "merge": spec.merge, "other": spec.other}
    return selected, summary
