"""A Hugging Face ``datasets`` audio dataset saved to disk (``Dataset.save_to_disk``).

The audio column is read without decoding (no torchcodec needed): a clip stored as a path
that exists is used where it lies; a clip stored as bytes is written once to ``audio_dir``
under the digest of its bytes (atomically; the same bytes always give the same file), so the
rest of emotransfer reads files as for any corpus. A ``ClassLabel`` label column gives its
names; a string column is read as it is (column ``label`` as written, ``emotion``
harmonised). Needs ``pip install emotransfer[datasets]``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from emotransfer.data.corpora._common import build_manifest, existing_root
from emotransfer.data.labels import harmonise, label_text
from emotransfer.define import Domain
from emotransfer.io import write_atomic


class HFDatasetCorpus:
    """A Hugging Face datasets Dataset or DatasetDict saved with save_to_disk (audio column).

    Its audio column's clips (``.wav``, ``.flac`` ... as stored) become the manifest's files.

    Args:
        root: the folder ``save_to_disk`` wrote.
        split: the split of a DatasetDict (``None``: every split, in order; the split's name
            goes to the ``partition`` column).
        audio: the audio column.
        label: the label column (``ClassLabel`` ints read as their names, or strings).
        speaker: the speaker column; ``None``: each clip its own speaker group.
        text: a transcript column to keep as ``text`` (``None``: none).
        audio_dir: where clips stored as bytes are written (default: ``<root>.audio`` beside
            the dataset).
        language: ISO 639-1 code (``"und"``: unknown).
        domain: ``speech`` or ``music``.

    Raises:
        ImportError: ``datasets`` is not installed (says how to install it).
        FileNotFoundError: ``root`` is not a saved dataset; a clip's path does not exist and
            it has no bytes.
        ValueError: an unknown split or column (names the ones there are).

    Example:
        >>> HFDatasetCorpus(root="/data/crema", label="emotion").audio
        'audio'
    """

    def __init__(
        self,
        *,
        root: str | Path,
        split: str | None = None,
        audio: str = "audio",
        label: str = "label",
        speaker: str | None = "speaker",
        text: str | None = None,
        audio_dir: str | Path | None = None,
        language: str = "und",
        domain: str = Domain.SPEECH,
    ) -> None:
        self.root = root
        self.split = split
        self.audio = audio
        self.label = label
        self.speaker = speaker
        self.text = text
        self.audio_dir = audio_dir
        self.language = language
        self.domain = domain

    def load(self) -> pd.DataFrame:
        """Return the manifest of every row (of the chosen split)."""
        try:
            import datasets
        except ImportError as error:
            raise ImportError("the hf_dataset corpus needs the datasets package: pip install "
                              "'emotransfer[datasets]'") from error  # fmt: skip
        root = existing_root(self.root, corpus="hf_dataset")
        try:
            saved = datasets.load_from_disk(str(root))
        except FileNotFoundError as error:
            raise FileNotFoundError(f"hf_dataset: {str(root)!r} is not a dataset saved with "
                                    f"save_to_disk: {error}") from None  # fmt: skip
        parts = self._parts(saved)
        target = Path(self.audio_dir) if self.audio_dir else root.with_name(root.name + ".audio")
        rows = []
        for partition, dataset in parts:
            rows += self._rows(dataset, partition, datasets.Audio(decode=False), target)
        table = build_manifest(rows, corpus=root.name, language=self.language,
                               domain=self.domain)  # fmt: skip
        return table

    def _parts(self, saved: Any) -> list[tuple[str, Any]]:
        if not hasattr(saved, "keys"):  # one Dataset
            if self.split is not None:
                raise ValueError(f"hf_dataset: split {self.split!r}: the dataset has no splits")
            return [("", saved)]
        names = list(saved.keys())
        if self.split is None:
            return [(name, saved[name]) for name in names]
        if self.split not in names:
            raise ValueError(f"hf_dataset: no split {self.split!r}; splits: {names}")
        return [(self.split, saved[self.split])]

    def _rows(
        self, dataset: Any, partition: str, raw: Any, target: Path
    ) -> list[dict[str, Any]]:  # fmt: skip
        columns = list(dataset.column_names)
        wanted = [self.audio, self.label, *(c for c in (self.speaker, self.text) if c)]
        missing = [column for column in wanted if column not in columns]
        if missing:
            raise ValueError(f"hf_dataset: no column(s) {missing}; columns: {columns}")
        names = getattr(dataset.features[self.label], "names", None)  # a ClassLabel
        dataset = dataset.cast_column(self.audio, raw)
        rows = []
        for position, record in enumerate(dataset):
            label = record[self.label]
            label = label_text(names[label] if names is not None and label is not None
                               else label)  # fmt: skip
            row = {"file": self._file(record[self.audio], target, position), "label": label,
                   "emotion": harmonise(label)}  # fmt: skip
            speaker = record[self.speaker] if self.speaker else None
            row["speaker"] = (str(speaker) if speaker not in (None, "")
                              else f"file:{partition}{position}")  # fmt: skip
            if self.text:
                row["text"] = "" if record[self.text] is None else str(record[self.text])
            if partition:
                row["partition"] = partition
            rows.append(row)
        return rows

    def _file(self, clip: dict[str, Any], target: Path, position: int) -> str:
        data, path = clip.get("bytes"), clip.get("path")
        if data:
            suffix = Path(path).suffix if path and Path(path).suffix else ".wav"
            name = hashlib.blake2b(data, digest_size=16).hexdigest() + suffix
            file = target / name
            if not file.is_file():
                write_atomic(file, lambda temporary: temporary.write_bytes(data))
            return str(file)
        if path and Path(path).is_file():
            return str(Path(path).resolve())
        raise FileNotFoundError(f"hf_dataset: row {position}: the clip has no bytes and its path "
                                f"{path!r} does not exist")  # fmt: skip
