"""Build the experiment's manifest from its corpus list and label choice.

Every bad row is an error naming its file, or a skip listed with its reason; none is lost
silently:

* a row with a blank emotion (empty, NaN or whitespace) is skipped and listed;
* a row whose audio file does not exist raises, or is skipped and listed;
* two rows for one segment (same file, start and end) raise unless duplicates are allowed.

Speaker ids are normalised per corpus (``corpus`` column) when the manifest is built, so
that one person is one speaker for the splits and the leakage audit:

1. surrounding whitespace is stripped;
2. ids equal case-insensitively are one speaker, spelled as their most frequent spelling
   (ties: the smallest in sort order): ``s01``, ``s01 `` and ``S01`` are one speaker;
3. ids that are probably one person but are not merged, because they are equal only once
   non-alphanumerics and leading zeros are removed (``s1``/``s01``, ``spk-1``/``spk_1``),
   are reported by :func:`speaker_near_duplicates` and logged as a warning.

A corpus entry's ``speakers`` and ``exclude_speakers`` match after the same normalisation.

Example:
    >>> table = pd.DataFrame({"corpus": ["c"] * 4, "speaker": ["s01", "S01", "s01 ", "s1"]})
    >>> normalize_speakers(table)["speaker"].tolist()
    ['s01', 's01', 's01', 's1']
    >>> speaker_near_duplicates(normalize_speakers(table))
    [['s01', 's1']]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection

import pandas as pd

from emotransfer import registry
from emotransfer.data.audio import file_problem
from emotransfer.data.labels import LabelSpec, apply_labels, label_summary
from emotransfer.data.manifest import check_no_duplicates

logger = logging.getLogger("emotransfer")


def load_corpora(
    corpora: list[dict],
    *,
    on_missing: str = "raise",
    allow_duplicates: bool = False,
    plugins: Collection[str] = (),
    column: str = "emotion",
) -> tuple[pd.DataFrame, list]:
    """Concatenate the manifests of ``[{name, root, params}]``; handle files that do not exist.

    ``column``: the label to predict; another column than ``emotion`` (``vocalization``, say)
    becomes the manifest's ``emotion`` column, the target every later step reads, and the
    emotion it replaces is kept as ``emotion_original``.

    Returns:
        The manifest (speaker ids normalised, see the module docstring) and a list of
        ``{"file", "problem"}`` for rows skipped: blank emotion, or missing file.

    Raises:
        ValueError: no corpus configured, a corpus is empty, a named speaker is not in its
            corpus, or two rows describe one segment and ``allow_duplicates`` is false.
        FileNotFoundError: missing files (listed) and ``on_missing="raise"``
            (``"skip"`` lists and drops them, ``"keep"`` does not look: a run of text alone).
    """
    if not corpora:
        raise ValueError(
            "data.corpora is empty: name at least one corpus (see `emotransfer corpora`)"
        )
    tables, skipped = [], []
    for entry in corpora:
        table, blank = _load_entry(entry, plugins, column)
        tables.append(table)
        skipped.extend(blank)
    table = normalize_speakers(pd.concat(tables, ignore_index=True))
    if not allow_duplicates:
        check_no_duplicates(table)
    if on_missing == "keep":  # a run that reads no audio (text alone): files are names
        return table, skipped
    problems = table["file"].map(file_problem)
    exists = problems.isna()
    missing = [{"file": f, "problem": problem}
               for f, problem in zip(table.loc[~exists, "file"], problems[~exists])]  # fmt: skip
    if missing and on_missing == "raise":
        shown = "\n  ".join(f"{s['file']}: {s['problem']}" for s in missing[:20])
        raise FileNotFoundError(
            f"{len(missing)} manifest file(s) do not exist or are not files (set "
            f"data.audio.on_error=skip to skip them):\n  {shown}"
        )
    table = table[exists].reset_index(drop=True)
    for group in speaker_near_duplicates(table):
        logger.warning("speaker ids %s look like one person but are kept apart (ids are merged "
                       "only when equal ignoring case and surrounding spaces); fix the "
                       "metadata if they are one person", group)  # fmt: skip
    return table, skipped + missing


def normalize_speakers(table: pd.DataFrame) -> pd.DataFrame:
    """Strip speaker ids and spell ids equal case-insensitively in one corpus alike (their
    most frequent spelling; ties: the smallest in sort order). Missing ids stay missing."""
    if "speaker" not in table:
        return table
    present = table["speaker"].notna()
    spelling = table.loc[present, "speaker"].astype(str).str.strip()
    key = _corpus(table)[present] + "/" + spelling.str.casefold()
    counts = pd.DataFrame({"key": key, "spelling": spelling}).value_counts().rename("n")
    ranked = counts.reset_index().sort_values(
        ["key", "n", "spelling"], ascending=[True, False, True]
    )
    canonical = ranked.drop_duplicates("key").set_index("key")["spelling"]
    table = table.copy()
    table.loc[present, "speaker"] = key.map(canonical)
    return table


def speaker_near_duplicates(table: pd.DataFrame) -> list[list[str]]:
    """Groups of distinct speaker ids of one corpus that are equal once lower-cased and
    stripped of non-alphanumerics and leading zeros (``s1``/``s01``): probably one person.

    Ids are ``corpus/speaker`` when the table holds several corpora, as in fold names.
    """
    if "speaker" not in table or table.empty:
        return []
    speaker = table["speaker"].dropna().astype(str)
    speaker = speaker[speaker.str.strip() != ""]
    corpus = _corpus(table)[speaker.index]
    loose = speaker.str.casefold().map(_loose_id)
    shown = corpus + "/" + speaker if corpus.nunique() > 1 else speaker
    frame = pd.DataFrame({"group": corpus + "/" + loose, "id": shown}).drop_duplicates()
    groups = frame.groupby("group")["id"].agg(sorted)
    return sorted(ids for ids in groups if len(ids) > 1)


def select_labels(table: pd.DataFrame, spec: LabelSpec) -> tuple[pd.DataFrame, dict]:
    """Apply the label set; fail when fewer than two classes remain, a class is unknown, or
    a label is outside the vocabulary and the spec does not say what to do with it."""
    present = set(table["emotion"].map(str))
    selected = apply_labels(table, spec)
    unknown = [c for c in spec.classes if c not in set(selected["emotion"])]
    if unknown:
        raise ValueError(
            f"data.labels.classes {unknown} have no rows; labels present: {sorted(present)}"
        )
    if selected["emotion"].nunique() < 2:
        raise ValueError(f"need at least 2 classes after label selection, have {sorted(present)}")
    summary = label_summary(selected, table, spec)
    summary["spec"] = {"classes": spec.classes, "merge": spec.merge, "other": spec.other}
    return selected, summary


def _load_entry(
    entry: dict, plugins: Collection[str] = (), column: str = "emotion"
) -> tuple[pd.DataFrame, list]:  # fmt: skip
    """One corpus entry's rows (speakers normalised and selected, ``column`` as the target)
    and its blank-label skips; ``plugins``: the ``module:Class`` corpus adapters the config
    allows."""
    corpus = registry.build("corpus", entry["name"], plugins=plugins, root=entry["root"],
                            **entry.get("params", {}))  # fmt: skip
    where = f"corpus {entry['name']!r} at {entry['root']}"
    table = corpus.load()
    if column not in table:
        raise ValueError(f"{where}: the manifest has no {column!r} column (data.labels.column); "
                         f"columns: {sorted(map(str, table.columns))}")  # fmt: skip
    if column != "emotion":
        original = table.get("emotion")
        table = table.assign(emotion=table[column])
        if original is not None:
            table = table.assign(emotion_original=original)
    table = _select_speakers(normalize_speakers(table), entry)
    if table.empty:
        raise ValueError(f"{where}: no rows")
    emotion = table["emotion"]
    blank = emotion.isna() | emotion.astype(str).str.strip().isin(["", "nan"])
    names = _corpus(table).replace("", entry["name"])
    skipped = [{"file": str(file), "problem": f"blank {column} label (corpus {name})"}
               for file, name in zip(table.loc[blank, "file"], names[blank])]  # fmt: skip
    if blank.all():
        raise ValueError(f"{where}: every row has a blank {column} label (e.g. "
                         f"{skipped[0]['file']})")  # fmt: skip
    return table[~blank].reset_index(drop=True), skipped


def _select_speakers(table: pd.DataFrame, entry: dict) -> pd.DataFrame:
    """Apply a corpus entry's ``speakers`` (keep) and ``exclude_speakers`` lists, matched as
    ids are normalised; a named speaker the corpus does not have is an error (a typo would
    silently change the data)."""
    speakers = table["speaker"].astype(str)
    folded = speakers.str.casefold()
    for key in ("speakers", "exclude_speakers"):
        named = [str(s) for s in entry.get(key) or []]
        unknown = sorted(n for n in named if n.strip().casefold() not in set(folded))
        if unknown:
            raise ValueError(f"corpus {entry['name']!r} at {entry['root']}: {key} {unknown} "
                             f"not in the corpus; it has {sorted(set(speakers))[:20]}")  # fmt: skip
    keep_named = [str(s).strip().casefold() for s in entry.get("speakers") or []]
    drop_named = [str(s).strip().casefold() for s in entry.get("exclude_speakers") or []]
    keep = folded.isin(keep_named or folded) & ~folded.isin(drop_named)
    return table[keep].reset_index(drop=True)


def _corpus(table: pd.DataFrame) -> pd.Series:
    if "corpus" not in table:
        return pd.Series("", index=table.index)
    return table["corpus"].fillna("").astype(str)


def _loose_id(speaker: str) -> str:
    alphanumeric = re.sub(r"[\W_]+", "", speaker)
    return re.sub(r"(?<!\d)0+(?=\d)", "", alphanumeric)
