"""Helpers shared by the corpus adapters: root checks, wav discovery, manifest building."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emotransfer.data.manifest import normalize_manifest
from emotransfer.define import Domain


def existing_root(root: str | Path, *, corpus: str) -> Path:
    """Return ``root`` as an absolute path; a missing folder raises ``FileNotFoundError``.

    Example:
        >>> existing_root("/", corpus="toy")
        PosixPath('/')
    """
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"{corpus}: corpus root {str(path)!r} does not exist")
    return path


def wav_files(folder: Path, *, corpus: str) -> list[Path]:
    """All ``*.wav`` files below ``folder``, sorted; none at all raises ``FileNotFoundError``.

    Names starting with a dot are skipped: zipped corpora often carry macOS ``._x.wav``
    resource forks that are not audio.
    """
    files = sorted(p for p in folder.rglob("*.wav") if not p.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"{corpus}: no .wav files found under {str(folder)!r}")
    return files


def bad_name(corpus: str, path: Path | str, problem: str) -> ValueError:
    """The error raised for a file whose name does not follow the corpus convention."""
    return ValueError(f"{corpus}: malformed file name {str(path)!r}: {problem}")


def build_manifest(
    rows: list[dict[str, object]] | pd.DataFrame,
    *,
    corpus: str,
    language: str,
    domain: str = Domain.SPEECH,
) -> pd.DataFrame:
    """Turn one dict per file (or a table) into the normalised manifest, sorted by file.

    Example:
        >>> build_manifest([{"file": "/a.wav", "emotion": "anger"}], corpus="toy",
        ...     language="en")[["corpus", "language", "emotion"]].values.tolist()
        [['toy', 'en', 'anger']]
    """
    table = pd.DataFrame(rows)
    table["language"] = language
    if len(table):
        table = table.sort_values("file", kind="stable")
    return normalize_manifest(table, corpus=corpus, domain=domain)
