"""Generic corpus read from a ``metadata.csv`` with relative file paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import existing_root
from emotransfer.data.labels import harmonise
from emotransfer.data.manifest import TEXT_COLUMNS, normalize_manifest
from emotransfer.define import Domain, Emotion

REQUIRED = ["file", "emotion"]
QUADRANTS = {Emotion.Q1, Emotion.Q2, Emotion.Q3, Emotion.Q4}


def read_metadata(path: Path) -> pd.DataFrame:
    """Read a metadata csv: text and ``*_id`` columns as strings, the rest type-inferred.

    Strings keep codes such as speaker ``03`` intact; inference turns empty numeric
    cells into NaN.
    """
    if not path.is_file():
        raise FileNotFoundError(f"csv: metadata file {str(path)!r} does not exist")
    header = pd.read_csv(path, nrows=0).columns
    text = [c for c in header if c in TEXT_COLUMNS or c == "file" or c.endswith("_id")]
    table = pd.read_csv(path, dtype=dict.fromkeys(text, str))
    for column in REQUIRED:
        if column not in table.columns:
            raise ValueError(f"csv: {str(path)!r} has no {column!r} column")
    table[text] = table[text].fillna("")
    return table


def infer_domain(emotions: pd.Series) -> str:
    """``music`` when every label is a q1..q4 quadrant, else ``speech``.

    Example:
        >>> infer_domain(pd.Series(["q1", "q3"])), infer_domain(pd.Series(["q1", "anger"]))
        ('music', 'speech')
    """
    labels = set(emotions) - {""}
    return Domain.MUSIC if labels and labels <= QUADRANTS else Domain.SPEECH


class CsvCorpus:
    """Any corpus described by a metadata csv, as in ``shared/data/<corpus>/metadata.csv``.

    The csv needs ``file`` (relative to ``root`` or absolute) and ``emotion`` columns;
    every other column is kept. Emotions are harmonised; ``corpus`` comes from its column
    or the folder name; ``domain`` from its column, else the ``domain`` argument, else
    ``music`` when all emotions are q1..q4 quadrants, else ``speech``.

    Args:
        root: corpus folder.
        file: metadata csv, relative to ``root``.
        domain: domain used when the csv has no ``domain`` column.
        missing_speaker: ``"keep"`` leaves empty speakers empty (speaker-independent splits
            then refuse them); ``"file"`` makes each such clip its own speaker group.

    Raises:
        FileNotFoundError: ``root``, the csv or a listed audio file is missing.
        ValueError: a required column is missing or a domain is not known.

    Example:
        >>> CsvCorpus(root="/data/emodb").file
        'metadata.csv'
    """

    def __init__(
        self,
        *,
        root: str | Path,
        file: str = "metadata.csv",
        domain: str | None = None,
        missing_speaker: str = "keep",
    ) -> None:
        self.root = root
        self.file = file
        self.domain = domain
        self.missing_speaker = missing_speaker

    def load(self) -> pd.DataFrame:
        """Return the manifest with absolute file paths."""
        root = existing_root(self.root, corpus="csv")
        table = read_metadata(root / self.file)
        table["file"] = [str(root / name) for name in table["file"]]
        table["emotion"] = table["emotion"].map(harmonise)
        if self.missing_speaker not in ("keep", "file"):
            raise ValueError(f"missing_speaker {self.missing_speaker!r}: use 'keep' or 'file'")
        if self.missing_speaker == "file" and "speaker" in table.columns:
            # An unknown speaker (or artist) becomes its own group: it can never leak.
            empty = table["speaker"].fillna("").astype(str).str.strip() == ""
            stems = table["file"].map(lambda f: "file:" + Path(f).stem)
            table.loc[empty, "speaker"] = stems[empty]
        if "corpus" in table.columns:
            table["corpus"] = table["corpus"].replace("", root.name)
        domain = self.domain or infer_domain(table["emotion"])
        if "domain" in table.columns:
            table["domain"] = table["domain"].replace("", domain).map(Domain.validate)
        table = normalize_manifest(table, corpus=root.name, domain=domain)
        return table
