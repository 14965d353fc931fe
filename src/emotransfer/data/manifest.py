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

from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

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


def check_files_exist(table: pd.DataFrame, *, source: str) -> None:
    """Raise ``FileNotFoundError`` listing every manifest file that does not exist."""
    missing = [f for f in table["file"].unique() if not Path(f).is_file()]
    if missing:
        shown = "\n  ".join(missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        raise FileNotFoundError(
            f"{source}: {len(missing)} file(s) in the manifest do not exist:\n  {shown}{more}"
        )


def row_key(row: pd.Series) -> str:
    """A stable identifier of one manifest row: file plus segment bounds."""
    start, end = row["start"], row["end"]
    if np.isnan(start) and np.isnan(end):
        return str(row["file"])
    return f"{row['file']}[{start:.3f}:{end:.3f}]"
