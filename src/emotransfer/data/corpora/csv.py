"""Generic corpus read from a ``metadata.csv`` with relative file paths."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import existing_root
from emotransfer.data.labels import harmonise
from emotransfer.data.manifest import TEXT_COLUMNS, normalize_manifest
from emotransfer.define import Domain, Emotion
from emotransfer.io import write_text

REQUIRED = ["file", "emotion"]
QUADRANTS = {Emotion.Q1, Emotion.Q2, Emotion.Q3, Emotion.Q4}


def read_metadata(path: Path) -> pd.DataFrame:
    """Read a metadata csv: text and ``*_id`` columns as strings, the rest type-inferred.

    Strings keep codes such as speaker ``03`` intact; inference turns empty numeric
    cells into NaN.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable csv (empty, binary, not UTF-8, bad quoting,
            a row with more cells than the header, duplicate or blank column names), has no
            ``file`` or ``emotion`` column, or a row has no file; the message names the file
            (and the line).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "metadata.csv"
        >>> _ = path.write_text("file,emotion\\n")
        >>> read_metadata(path).columns.tolist()
        ['file', 'emotion']
        >>> _ = path.write_text("")
        >>> read_metadata(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: csv: cannot read metadata file '.../metadata.csv': the file is empty (0 bytes)
    """
    if not path.is_file():
        raise FileNotFoundError(f"csv: metadata file {str(path)!r} does not exist")
    try:
        text = _metadata_text(path)
        header = _check_rows(text)
    except (ValueError, csv.Error) as error:
        raise ValueError(f"csv: cannot read metadata file {str(path)!r}: {error}") from None
    text_columns = [c for c in header  # transcripts ("text") stay strings too
                    if c in TEXT_COLUMNS or c in ("file", "text", "video")
                    or c.endswith("_id")]  # fmt: skip
    try:
        table = pd.read_csv(io.StringIO(text), dtype=dict.fromkeys(text_columns, str),
                            index_col=False)  # fmt: skip
    except (ValueError, pd.errors.ParserError) as error:
        raise ValueError(f"csv: cannot parse metadata file {str(path)!r}: {error}") from None
    for column in REQUIRED:
        if column not in table.columns:
            raise ValueError(f"csv: {str(path)!r} has no {column!r} column")
    table[text_columns] = table[text_columns].fillna("")
    return table


def _metadata_text(path: Path) -> str:
    """The csv's text; empty, binary or non-UTF-8 files raise ``ValueError``."""
    data = path.read_bytes()
    if not data:
        raise ValueError("the file is empty (0 bytes)")
    if b"\x00" in data:
        raise ValueError("the file holds NUL bytes: binary data, not a csv")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text ({error}); binary data, or save it as UTF-8") from None
    if not text.strip():
        raise ValueError("the file has no header line")
    return text


def _check_rows(text: str) -> list[str]:
    """Parse ``text`` strictly and return the header; bad rows raise naming their line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader if row]
    except csv.Error as error:
        raise ValueError(f"bad quoting near line {reader.line_num}: {error} (a quote that "
                         "is never closed?)") from None  # fmt: skip
    (_, header), body = rows[0], rows[1:]
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"the header repeats the column(s) {repeated}")
    if "" in names:
        raise ValueError(f"the header {header} has a blank column name")
    column = names.index("file") if "file" in names else None
    for line, row in body:
        if len(row) > len(header):
            raise ValueError(f"line {line} has {len(row)} cells, the header {len(header)} "
                             "(an unquoted comma?)")  # fmt: skip
        if column is not None and (len(row) <= column or not row[column].strip()):
            raise ValueError(f"line {line} has no file")
    return header


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
        if "video" in table.columns:  # frame-feature files, relative to the root like `file`
            table["video"] = [str(root / name) if str(name).strip() else ""
                              for name in table["video"].fillna("")]  # fmt: skip
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


def write_corpus(
    table: pd.DataFrame, root: str | Path, *, file: str = "metadata.csv"
) -> dict[str, object]:  # fmt: skip
    """A pandas DataFrame as a ``csv`` corpus: ``root/file`` written (atomically) with each
    clip's path relative to ``root`` where it lies below it (absolute otherwise), and the
    ``data.corpora`` entry that reads it back, so a DataFrame runs like any corpus and the
    run's config names data on disk.

    Raises:
        ValueError: no ``file`` or ``emotion`` column, or a row without a file (names it).
        FileNotFoundError: files that do not exist (lists them).

    Example:
        >>> import tempfile, soundfile, numpy as np
        >>> folder = Path(tempfile.mkdtemp())
        >>> soundfile.write(folder / "a.wav", np.zeros(800), 16000)
        >>> entry = write_corpus(pd.DataFrame({"file": [str(folder / "a.wav")],
        ...                                    "emotion": ["anger"]}), folder)
        >>> entry["name"], CsvCorpus(root=entry["root"]).load()["emotion"].tolist()
        ('csv', ['anger'])
    """
    for column in REQUIRED:
        if column not in table.columns:
            raise ValueError(f"write_corpus: the table has no {column!r} column; columns: "
                             f"{list(table.columns)}")  # fmt: skip
    root = Path(root).expanduser().resolve()
    files, missing = [], []
    for position, name in enumerate(table["file"]):
        if not isinstance(name, str | Path) or not str(name).strip():
            raise ValueError(f"write_corpus: row {position} has no file ({name!r})")
        path = Path(name).expanduser().resolve()
        if not path.is_file():
            missing.append(str(name))
        files.append(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))
    if missing:
        raise FileNotFoundError(f"write_corpus: {len(missing)} file(s) do not exist, e.g. "
                                f"{missing[:3]}")  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    write_text(root / file, table.assign(file=files).to_csv(index=False))
    return {"name": "csv", "root": str(root), "params": {"file": file}}
