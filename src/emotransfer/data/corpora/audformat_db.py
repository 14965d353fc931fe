"""An audformat database (the format of audEERING's audb and of nkululeko's inputs).

The header ``db.yaml`` is read with emotransfer's safe YAML reader and its tables from their
CSV or PARQUET files (never the pickled copies audformat may keep beside them: a corpus is
data, and nothing read from it runs code). A filewise table gives one clip per file, a
segmented table one clip per (file, start, end) segment. The label comes from a column of
one table (kept as written in ``label``, harmonised in ``emotion``); the speaker from a
column of the same table or of any other table of the same files; media paths are relative
to the database root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from emotransfer.data.corpora._common import build_manifest, existing_root
from emotransfer.data.labels import harmonise, label_text
from emotransfer.define import Domain
from emotransfer.safe_yaml import load_yaml

INDEX = ("file", "start", "end")


class AudformatCorpus:
    """An audformat database (audb, nkululeko): db.yaml, CSV or PARQUET tables, .wav media.

    ``<root>/db.yaml`` plus one ``db.<table>.csv`` or ``.parquet`` per table; media
    (``.wav``, ``.flac`` ...) relative to ``root``.

    Args:
        root: the database folder.
        table: the table holding the label.
        column: the label column of that table.
        speaker: the speaker column, looked up in ``table`` and then in the database's other
            tables (joined on the file); ``None`` or not found: each clip its own speaker
            group.
        language: ISO 639-1 code; ``None``: the database's first language, else ``"und"``.
        domain: ``speech`` or ``music``.

    Raises:
        FileNotFoundError: no ``db.yaml``, or a table stored only as a pickle (the message
            says how to re-save it).
        ValueError: an unknown table or column (names the ones there are), a table of
            another index.

    Example:
        >>> AudformatCorpus(root="/data/db", table="emotion.categories.train").column
        'emotion'
    """

    def __init__(
        self,
        *,
        root: str | Path,
        table: str = "emotion",
        column: str = "emotion",
        speaker: str | None = "speaker",
        language: str | None = None,
        domain: str = Domain.SPEECH,
    ) -> None:
        self.root = root
        self.table = table
        self.column = column
        self.speaker = speaker
        self.language = language
        self.domain = domain

    def load(self) -> pd.DataFrame:
        """Return the manifest of every row of the label table."""
        root = existing_root(self.root, corpus="audformat")
        header = header_of(root)
        tables = sorted(header.get("tables") or {})
        if self.table not in tables:
            raise ValueError(f"audformat: {root}: no table {self.table!r}; tables: {tables}")
        labels = read_table(root, self.table)
        if self.column not in labels.columns:
            columns = [c for c in labels.columns if c not in INDEX]
            raise ValueError(f"audformat: table {self.table!r} has no column {self.column!r}; "
                             f"columns: {columns}")  # fmt: skip
        rows = pd.DataFrame({
            "file": [str(root / name) for name in labels["file"]],
            "start": labels.get("start"), "end": labels.get("end"),
            "label": [label_text(value) for value in labels[self.column]],
        })  # fmt: skip
        rows["emotion"] = rows["label"].map(harmonise)
        rows["speaker"] = self._speakers(root, labels, tables)
        languages = header.get("languages") or []
        language = self.language or (str(languages[0]) if languages else "und")
        return build_manifest(rows, corpus=str(header.get("name") or root.name),
                              language=language, domain=self.domain)  # fmt: skip

    def _speakers(self, root: Path, labels: pd.DataFrame, tables: list[str]) -> list[str]:
        own = ["file:" + str(name) for name in labels["file"]]
        if self.speaker is None:
            return own
        if self.speaker in labels.columns:
            found = labels[self.speaker]
        else:
            found = None
            for other in tables:
                if other == self.table:
                    continue
                table = read_table(root, other)
                if self.speaker in table.columns and "start" not in table.columns:
                    by_file = table.drop_duplicates("file").set_index("file")[self.speaker]
                    found = labels["file"].map(by_file)
                    break
            if found is None:
                return own
        return [label_text(value) or own[i] for i, value in enumerate(found)]


def header_of(root: Path) -> dict[str, Any]:
    """The database header (``db.yaml``), read without constructing any object."""
    path = root / "db.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"audformat: {str(root)!r} holds no db.yaml (not an audformat "
                                "database)")  # fmt: skip
    header = load_yaml(path.read_text(encoding="utf-8"))
    if isinstance(header, dict) and len(header) == 1 and "name" not in header:
        ((name, header),) = header.items()  # an old header: {name: {...}}
        header = {**header, "name": name}
    if not isinstance(header, dict):
        raise ValueError(f"audformat: {path}: not a database header")
    return header


def read_table(root: Path, table: str) -> pd.DataFrame:
    """One table as columns ``file`` [, ``start``, ``end`` in seconds] and its own columns,
    from its CSV or PARQUET file."""
    base = root / f"db.{table}"
    parquet, csv = base.with_name(base.name + ".parquet"), base.with_name(base.name + ".csv")
    if parquet.is_file():
        data = pd.read_parquet(parquet)
        data = data.reset_index() if "file" not in data.columns else data
    elif csv.is_file():
        data = pd.read_csv(csv, dtype={"file": str}, keep_default_na=True)
    else:
        pickled = base.with_name(base.name + ".pkl")
        if pickled.is_file():
            raise FileNotFoundError(
                f"audformat: table {table!r} is stored only as {pickled.name}: emotransfer "
                "never unpickles; re-save the database with db.save(root, storage_format="
                "'parquet') (or 'csv')"
            )
        raise FileNotFoundError(f"audformat: table {table!r} has no file {csv.name} or "
                                f"{parquet.name} in {str(root)!r}")  # fmt: skip
    if "file" not in data.columns:
        raise ValueError(f"audformat: table {table!r} has no file index (a misc table?)")
    for bound in ("start", "end"):
        if bound in data.columns:
            data[bound] = pd.to_timedelta(data[bound]).dt.total_seconds()
    return data
