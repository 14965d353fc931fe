"""The confound audit: how much of the label a speaker (session, sentence) already tells.

The leakage audit checks that no speaker is on both sides of a fold; this one checks the
design of the data. When a speaker shows one emotion only (an actor recorded for anger, a
session recorded for one mood), a model can score by recognising the speaker, and per-speaker
normalisation, which subtracts each speaker's mean, removes exactly the emotion: on URDU, 26 of
29 speakers show one class and speaker-normalised LOSO falls to chance. Per grouping column
the audit gives the label distribution of every group, the share of groups (and of clips)
whose labels are one class or nearly so, and the mutual information between group and label
(also as a share of the label's entropy: 1.0 = the group determines the label); for
dimensional targets, the share of their variance that lies between groups.

Example:
    >>> table = pd.DataFrame({"corpus": "c", "speaker": list("aabbcc"),
    ...                       "emotion": ["anger", "anger", "joy", "joy", "anger", "joy"]})
    >>> speaker = confound_audit(table)["groups"]["speaker"]
    >>> speaker["one_label_groups"], round(speaker["mi_share"], 3)
    (0.667, 0.667)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from emotransfer.data.manifest import blank_cells

# Columns that group clips, audited where the manifest has them (speaker first).
GROUPINGS = ("speaker", "session", "text_id", "text")
# A group is "one label" when this share of its clips or more has one class.
NEARLY_ONE = 0.9
# The audit warns when this share of a grouping's groups (or more) shows one label.
WARN_SHARE = 0.25
# Per-speaker normalisation is refused when more than this share of speakers shows one label
# ("most"), and `auto` keeps it only when no more than this share of clips does.
REFUSE_SHARE = 0.5
# Columns of what is said: where they tell the label, a model of the words scores by lookup
# unless the split holds the content out too.
CONTENT = ("text_id", "text")
CONTENT_HINT = (
    "; a model of the words can score by recognising them: hold the content out "
    "with the speakers (split.kind: disjoint, split.content: {column})"
)
AUTO_CLIP_SHARE = 0.05


def confound_audit(
    table: pd.DataFrame, *, label: str = "emotion", dimensions: tuple[str, ...] = (),
    groupings: tuple[str, ...] = GROUPINGS,
) -> dict[str, Any]:  # fmt: skip
    """The audit of ``table`` (see the module docstring), as plain JSON values, for the
    ``groupings`` columns it has.

    Returns:
        ``{"label", "groups": {column: figures}, "notes": [...], "warn": bool}``; a column
        with no value on some row, or one group only, gets a note instead of figures.
    """
    result: dict[str, Any] = {"label": label, "groups": {}, "notes": []}
    labels = table[label].astype(str).to_numpy()
    for column in groupings:
        if column not in table:
            continue
        keys, note = _group_keys(table, column)
        if note:
            result["notes"].append(note)
            continue
        figures = _figures(keys, labels)
        for name in dimensions:
            if name in table:
                figures.setdefault("between_variance", {})[name] = between_variance(
                    keys, table[name].to_numpy(dtype=float))  # fmt: skip
        result["groups"][column] = figures
    flagged = [column for column, figures in result["groups"].items()
               if _telling_share(figures) >= WARN_SHARE]  # fmt: skip
    result["notes"] += [summary(result["groups"][column], column)
                        + (CONTENT_HINT.format(column=column) if column in CONTENT else "")
                        for column in flagged]  # fmt: skip
    result["warn"] = bool(flagged)
    return result


def _telling_share(figures: dict[str, Any]) -> float:
    """The share of groups of two clips or more that show one emotion (a group of one clip
    always does, and tells nothing: a text spoken once, a clip that is its own speaker)."""
    several = figures["groups"] - figures["single_clip_groups"]
    return (figures["one_label_count"] - figures["single_clip_groups"]) / max(several, 1)


def summary(figures: dict[str, Any], column: str = "speaker") -> str:
    """One line on a confounded grouping, with its figures."""
    single = figures["single_clip_groups"]
    return (f"{figures['one_label_count']} of {figures['groups']} {column}s "
            f"({100 * figures['one_label_groups']:.0f} %, {100 * figures['one_label_clips']:.0f} "
            f"% of the clips) show one emotion{f' ({single} of one clip)' if single else ''}; "
            f"mutual information {column}-label {figures['mutual_information']:.2f} bits, "
            f"{100 * figures['mi_share']:.0f} % of the label's entropy")  # fmt: skip


def _group_keys(table: pd.DataFrame, column: str) -> tuple[np.ndarray, str | None]:
    values = table[column]
    missing = blank_cells(values)
    if missing.any():
        return np.array([]), (f"{column}: {int(missing.sum())} of {len(table)} rows have no "
                              f"value (e.g. {table.loc[missing, 'file'].iloc[0]}); not "
                              "audited")  # fmt: skip
    keys = (table["corpus"].astype(str) + "/" + values.astype(str)).to_numpy()
    if len(np.unique(keys)) < 2:
        return keys, (f"{column}: one {column} only ({keys[0]}); speaker-independent "
                      "evaluation and per-speaker normalisation need several")  # fmt: skip
    return keys, None


def _figures(keys: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    crosstab = pd.crosstab(pd.Series(keys, name="group"), pd.Series(labels, name="label"))
    counts = crosstab.to_numpy(dtype=float)
    sizes = counts.sum(axis=1)
    purity = counts.max(axis=1) / sizes
    one = purity >= NEARLY_ONE
    information = mutual_information(counts)
    entropy = _entropy(counts.sum(axis=0))
    return {
        "groups": int(len(sizes)),
        "one_label_count": int(one.sum()),
        "one_label_groups": round(float(one.mean()), 3),
        "one_label_clips": round(float(sizes[one].sum() / sizes.sum()), 3),
        "single_clip_groups": int((sizes == 1).sum()),
        "classes_per_group": round(float((counts > 0).sum(axis=1).mean()), 3),
        "mutual_information": round(information, 4),
        "mi_share": round(information / entropy, 4) if entropy > 0 else 0.0,
        "distribution": {
            str(group): {str(name): int(n) for name, n in row.items() if n}
            for group, row in crosstab.iterrows()
        },  # fmt: skip
    }


def mutual_information(counts: np.ndarray) -> float:
    """Mutual information in bits of a ``(groups, classes)`` contingency table.

    Example:
        >>> mutual_information(np.array([[5, 0], [0, 5]])), mutual_information(np.ones((2, 2)))
        (1.0, 0.0)
    """
    joint = np.asarray(counts, dtype=float) / np.sum(counts)
    rows, columns = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    present = joint > 0
    return float(np.sum(joint[present] * np.log2(joint[present] / (rows @ columns)[present])))


def between_variance(keys: np.ndarray, values: np.ndarray) -> float | None:
    """The share of ``values``' variance between groups (eta squared; NaN rows left out)."""
    known = np.isfinite(values)
    keys, values = keys[known], values[known]
    total = float(((values - values.mean()) ** 2).sum()) if len(values) else 0.0
    if total <= 0:
        return None
    frame = pd.DataFrame({"key": keys, "value": values})
    means = frame.groupby("key")["value"].agg(["mean", "size"])
    between = float((means["size"] * (means["mean"] - values.mean()) ** 2).sum())
    return round(between / total, 4)


def _entropy(counts: np.ndarray) -> float:
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log2(shares)).sum())
