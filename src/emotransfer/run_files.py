"""Digests of the model files of a run folder (safe loading of its tensor files: emotransfer.io).

A finished run records ``files.json``: a content digest (git-style: a blake2b hash of
``"blob <size>\\0"`` and the bytes) of every file a :class:`~emotransfer.inference.Predictor`
reads, and the number of fold models. Before loading, the predictor checks the folder
against it, so a silent edit (reordered classes or another normalisation in ``model.json``, a
zeroed scaler, a deleted fold folder) is refused with the file that changed instead of
giving other predictions. The digests catch accidental and silent edits; that nothing read
from a run folder can run code comes from :mod:`emotransfer.model_spec` checking every name
in ``model.json`` and from reading weights only as safetensors.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "model.json").write_text('{"classes": ["anger", "sadness"]}')
    >>> record_model_files(folder)["folds"], len(file_digest(folder / "model.json"))
    (0, 64)
    >>> verify_model_files(folder) is not None
    True
    >>> _ = (folder / "model.json").write_text('{"classes": ["sadness", "anger"]}')
    >>> verify_model_files(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emotransfer.io.RunFolderError: ...: model.json changed since the run wrote it
"""

from __future__ import annotations

__all__ = ["RunFolderError", "load_arrays", "load_tensors", "record_model_files",
           "verify_model_files"]  # fmt: skip

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from emotransfer.io import RunFolderError, load_arrays, load_tensors, write_json
from emotransfer.model_spec import declared_layout

log = logging.getLogger(__name__)

FILES = "files.json"
CALIBRATION = "calibration.json"  # a trained run's temperature, read by the Predictor
SPEAKER_STATS = "speaker_stats.safetensors"  # a frozen run's average training speaker
ALGORITHM = "blake2b-256 of 'blob <size>\\0' + content"
# Everything a Predictor reads, relative to the run folder.
MODEL_FILES = ("model.json", "models/*/head.safetensors", "models/*/trainable.safetensors",
               "source/encoder.safetensors", "refit/head.safetensors",
               "refit/trainable.safetensors", CALIBRATION, SPEAKER_STATS)  # fmt: skip
FOLD_FILES = ("head.safetensors", "trainable.safetensors")


def file_digest(path: str | Path) -> str:
    """Hex blake2b-256 digest of a file's size header and content, as git hashes a blob."""
    path = Path(path)
    digest = hashlib.blake2b(f"blob {path.stat().st_size}\0".encode(), digest_size=32)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_files(folder: str | Path) -> list[str]:
    """Paths (relative, ``/``-separated) of the model files in ``folder``, sorted."""
    folder = Path(folder)
    found = {p.relative_to(folder).as_posix() for pattern in MODEL_FILES
             for p in folder.glob(pattern) if p.is_file()}  # fmt: skip
    return sorted(found)


def record_model_files(folder: str | Path) -> dict[str, Any]:
    """Write ``folder/files.json`` (atomically): the digest of every model file and the
    number of fold models. Call it when the run has written its last model file.

    Returns:
        the record written: ``{"algorithm", "folds", "files": {path: digest}}``.
    """
    folder = Path(folder)
    files = model_files(folder)
    record = {"algorithm": ALGORITHM, "folds": len(_fold_folders(files)),
              "files": {name: file_digest(folder / name) for name in files}}  # fmt: skip
    write_json(folder / FILES, record)
    return record


def verify_model_files(folder: str | Path) -> dict[str, Any] | None:
    """Check the model files of ``folder`` against its ``files.json``.

    The folder's format decides what it must hold: a ``model.json`` of format 2 or newer
    was written by a run that records ``files.json`` when it finishes, so without it the
    folder is unfinished (fewer fold models than ``model.json`` plans, or no
    ``metrics.json``) or was changed after the run; both are refused. Only a folder whose
    ``model.json`` is of format 1 (an older emotransfer) is loaded without the record.

    Returns:
        the record, or ``None`` for a format-1 folder without ``files.json`` (logged as a
        warning, not refused).

    Raises:
        RunFolderError: no ``files.json`` in a format-2 folder (unfinished or changed: the
            message says which and how to finish it), an unreadable ``files.json``, fewer
            fold models than ``model.json`` or ``metrics.json`` record, or a model file that
            changed, is missing or was added; the message names each.
    """
    folder = Path(folder)
    path = folder / FILES
    format_, planned = declared_layout(folder)
    if not path.is_file():
        if format_ == 1:
            log.warning("%s: no %s (a run folder of an older emotransfer, model.json format "
                        "1): its model files are loaded without checking their digests",
                        folder, FILES)  # fmt: skip
            return None
        raise RunFolderError(_without_record(folder, format_, planned))
    record = _read_record(path)
    problems = _differences(folder, record) + _short_of(folder, record["folds"], planned)
    if problems:
        raise RunFolderError(f"{folder}: the model files differ from {FILES}: "
                             + "; ".join(problems))  # fmt: skip
    return record


def _without_record(folder: Path, format_: Any, planned: int | None) -> str:
    """Why a format-2 folder without ``files.json`` is refused: unfinished, or changed."""
    found = len(_fold_folders(model_files(folder)))
    finished = (folder / "metrics.json").is_file() and (planned is None or found >= planned)
    if not finished:
        counted = f"{found} of {planned}" if planned else f"{found}"
        return (
            f"{folder}: an unfinished run ({counted} fold models trained; no {FILES}, which a "
            f"run writes when it finishes): finish it with `emotransfer run "
            f"{folder / 'config.yaml'} --resume --run-dir {folder}`, then predict"
        )
    return (
        f"{folder}: {FILES} is missing, but model.json is of format {format_}, whose runs "
        f"record it when they finish: the folder was changed after the run (a deleted "
        f"{FILES} would let edits of its model files through), so it is not loaded; "
        f"restore {FILES}, or re-run it (--force)"
    )


def _short_of(folder: Path, recorded: int, planned: int | None) -> list[str]:
    """Fewer (or more) fold models recorded than ``model.json`` plans or ``metrics.json``
    reports."""
    problems = []
    if planned is not None and recorded != planned:
        problems.append(f"model.json plans {planned} fold models, {FILES} records {recorded}")
    try:
        reported = json.loads((folder / "metrics.json").read_text()).get("folds")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        reported = None
    if isinstance(reported, list) and len(reported) != recorded:
        problems.append(f"metrics.json reports {len(reported)} folds, {FILES} records "
                        f"{recorded} fold models")  # fmt: skip
    return problems


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path}: unreadable ({error})") from error
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict) or not isinstance(record.get("folds"), int):
        raise RunFolderError(f"{path}: not a model-file record (needs 'files' and 'folds')")
    return record


def _differences(folder: Path, record: dict[str, Any]) -> list[str]:
    """What differs from the record: the fold models first, then each file."""
    recorded, present = record["files"], model_files(folder)
    expected, found = record["folds"], _fold_folders(present)
    missing = _fold_folders(list(recorded)) - found
    added = found - _fold_folders(list(recorded))
    problems = []
    if missing or added or len(found) != expected:
        details = [f"{name} missing" for name in sorted(missing)]
        details += [f"{name} added" for name in sorted(added)]
        problems.append(f"{expected} fold models expected, {len(found)} found"
                        + (f": {', '.join(details)}" if details else ""))  # fmt: skip
    for name in sorted(set(recorded) | set(present)):
        fold = name.rsplit("/", 1)[0]
        if fold in missing or fold in added:
            continue  # said above, once for the whole fold
        if name not in present:
            problems.append(f"{name} missing")
        elif name not in recorded:
            problems.append(f"{name} added after the run (not in {FILES})")
        elif file_digest(folder / name) != recorded[name]:
            problems.append(f"{name} changed since the run wrote it")
    return problems


def _fold_folders(files: list[str]) -> set[str]:
    """``models/<fold>`` of each fold model among relative file paths."""
    return {name.rsplit("/", 1)[0] for name in files
            if name.startswith("models/") and name.rsplit("/", 1)[-1] in FOLD_FILES}  # fmt: skip
