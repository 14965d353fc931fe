"""The one table every corpus becomes.

Columns (one row per utterance or segment):
    file        absolute path of the audio file
    start, end  segment bounds in seconds (NaN = whole file)
    corpus, language, speaker, gender, emotion, domain
    valence, arousal, dominance   dimensional labels (NaN where a corpus has none)
    any extra column an adapter keeps (session, text_id, split, ...)

Example:
    >>> table = normalize_manifest(pd.DataFrame({"file": ["/a.wav"], "speaker": ["s1"],
    ...     "emotion": ["anger"]}), corpus="toy")
    >>> list(table.columns[:4])
    ['file', 'start', 'end', 'corpus']
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from emotransfer.data.audio import MISSING, file_problem
from emotransfer.define import Domain

COLUMNS = [
    "file", "start", "end", "corpus", "language", "speaker", "gender", "emotion",
    "valence", "arousal", "dominance", "domain",
]  # fmt: skip
FLOAT_COLUMNS = ["start", "end", "valence", "arousal", "dominance"]
TEXT_COLUMNS = ["corpus", "language", "speaker", "gender", "emotion", "domain"]


class Corpus(Protocol):
    """A corpus adapter: reads a corpus in its own layout and returns the manifest table."""

    def load(self) -> pd.DataFrame:
        """Return the manifest (see module docstring) with absolute file paths."""
        ...


def normalize_manifest(
    table: pd.DataFrame, *, corpus: str, domain: str = Domain.SPEECH
) -> pd.DataFrame:
    """Add missing standard columns, fix their types and put them first; extras are kept."""
    table = table.copy()
    defaults = {"corpus": corpus, "domain": Domain.validate(domain)}
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = defaults.get(column, np.nan if column in FLOAT_COLUMNS else "")
    for column in FLOAT_COLUMNS:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    for column in TEXT_COLUMNS:
        table[column] = table[column].fillna("").astype(str)
    table["file"] = table["file"].astype(str)
    extras = [c for c in table.columns if c not in COLUMNS]
    return table[COLUMNS + extras].reset_index(drop=True)


def blank_cells(values: pd.Series) -> pd.Series:
    """Which cells hold no value: missing, blank, or the text of a missing value (``nan``,
    ``None``, as a CSV written from pandas holds them).

    Example:
        >>> blank_cells(pd.Series(["a", " ", None, "nan", 3])).tolist()
        [False, True, True, True, False]
    """
    return values.isna() | values.astype(str).str.strip().isin(["", "nan", "None"])


def check_files_exist(table: pd.DataFrame, *, source: str) -> None:
    """Raise ``FileNotFoundError`` listing every manifest file that does not exist (or is a
    directory, a FIFO, a device: named as such)."""
    missing = [(f, problem) for f in table["file"].unique()
               if (problem := file_problem(f)) is not None]  # fmt: skip
    if missing:
        shown = "\n  ".join(f if problem == MISSING else f"{f}: {problem}"
                             for f, problem in missing[:20])  # fmt: skip
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise FileNotFoundError(
            f"{source}: {len(missing)} file(s) in the manifest do not exist:\n  {shown}{more}"
        )


def check_no_duplicates(table: pd.DataFrame) -> None:
    """Raise ``ValueError`` when rows share file, start and end (one segment, scored twice),
    listing the first such segments with their row count and corpus.

    Example:
        >>> check_no_duplicates(normalize_manifest(pd.DataFrame({"file": ["/a.wav"] * 2}),
        ...     corpus="toy"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 1 segment(s) appear more than once in the manifest ... /a.wav (2 rows, ...
    """
    columns = [c for c in ("file", "start", "end") if c in table]
    repeated = table[table.duplicated(columns, keep=False)]
    if repeated.empty:
        return
    groups = list(repeated.groupby(columns, dropna=False, sort=False))
    corpus = repeated["corpus"] if "corpus" in repeated else pd.Series("?", repeated.index)
    shown = "\n  ".join(
        f"{row_key(rows.iloc[0])} ({len(rows)} rows, corpus "
        f"{', '.join(sorted(set(corpus[rows.index].astype(str))))})"
        for _, rows in groups[:20]
    )
    more = f"\n  ... and {len(groups) - 20} more" if len(groups) > 20 else ""
    raise ValueError(
        f"{len(groups)} segment(s) appear more than once in the manifest (same file, start "
        f"and end; each copy would be trained and scored):\n  {shown}{more}\nRemove the copies "
        "from the metadata, or set data.allow_duplicates=true to keep them"
    )


def row_key(row: pd.Series) -> str:
    """A stable identifier of one manifest row: file plus segment bounds."""
    start, end = row.get("start", np.nan), row.get("end", np.nan)
    if np.isnan(start) and np.isnan(end):
        return str(row["file"])
    return f"{row['file']}[{start:.3f}:{end:.3f}]"
