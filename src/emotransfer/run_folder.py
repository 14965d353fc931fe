"""Claiming a run folder: what it holds is checked before a run reuses or replaces it.

A run folder records its inputs (``inputs.json``, see :mod:`emotransfer.run_inputs`) when
the run is known to start, together with ``config.yaml`` and ``versions.json``. A later run
into the same folder continues only on the same config and data; otherwise it is refused
with what changed, and ``force`` recomputes (the old fold results and checkpoints are
removed first, so nothing of the old run is mixed into the new one).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from emotransfer.config import ExperimentConfig, save_config, settings
from emotransfer.features.transcripts import SOURCE, transcript_table
from emotransfer.io import RunFolderError, package_versions, write_json, write_text
from emotransfer.run_inputs import describe, input_record

INPUTS = "inputs.json"
TRANSCRIPTS = "transcripts.csv"
# Settings that do not change any fold result: a run may continue across them (e.g. all
# folds after a run of `split.only_folds`, or with another cache folder).
NEUTRAL = ["name", "output_dir", "cache_dir", "features.workers", "split.only_folds",
           "evaluation.bootstrap", "evaluation.confidence", "head.refit",
           "finetune.refit", "finetune.calibration"]  # fmt: skip
RESULTS = ["folds", "models", "source"]


def read_inputs(folder: Path, *, resume: bool, force: bool) -> dict[str, Any] | None:
    """The saved input record of ``folder``, or ``None`` for a fresh folder.

    Raises:
        RunFolderError: ``resume`` and the folder holds no run; or the folder holds results
            of unknown inputs (an older emotransfer, an unreadable record) and not ``force``.
    """
    path = folder / INPUTS
    held = [name for name in RESULTS if (folder / name).exists()]
    if not path.is_file():
        if resume:
            raise RunFolderError(f"--resume: {folder} holds no run to resume (no {INPUTS})")
        if held and not force:
            raise RunFolderError(
                f"{folder} holds results ({', '.join(held)}) without a record of their "
                f"inputs ({INPUTS}); --force recomputes the run, or choose another name"
            )
        return None
    try:
        saved = json.loads(path.read_text())
        if not isinstance(saved, dict) or "rows" not in saved:
            raise ValueError("not an input record")
    except (OSError, ValueError) as error:
        if force:
            return None
        raise RunFolderError(f"{path}: unreadable ({error}); --force recomputes the run") from None
    return saved


def claim_folder(
    folder: Path,
    config: ExperimentConfig,
    table: pd.DataFrame,
    saved: dict[str, Any] | None,
    *,
    force: bool,
) -> dict[str, Any]:
    """Check ``saved`` against this run, then write config, versions and the new record.

    Returns:
        The input record of this run.

    Raises:
        RunFolderError: the saved record differs (the message lists what) and not ``force``.
    """
    record = input_record(result_config(config), table, settings=result_settings(config))
    if saved is not None:
        changed = describe(saved, record)
        if changed and not force:
            raise RunFolderError(
                f"{folder} holds a run of other inputs: {'; '.join(changed)}. Its results "
                "are kept: choose another name (-o name=...) or --run-dir, or --force to "
                "recompute it"
            )
    if force and (saved is None or describe(saved, record)):
        for name in RESULTS:
            shutil.rmtree(folder / name, ignore_errors=True)
    save_config(config, folder / "config.yaml")
    write_json(folder / "versions.json", package_versions())
    write_json(folder / INPUTS, record)
    if SOURCE in table.columns:  # the text input's transcripts, given or made by ASR
        shown = transcript_table(table, config.column_of("text"))
        write_text(folder / TRANSCRIPTS, shown.to_csv(index=False))
    else:
        (folder / TRANSCRIPTS).unlink(missing_ok=True)
    return record


def claim_source(
    folder: Path, config: ExperimentConfig, table: pd.DataFrame, *, force: bool
) -> None:
    """Check the stage-1 (two-stage) folder's own input record against the source corpora
    ``table``: a trained source encoder is reused only on the same source data.

    Raises:
        RunFolderError: the source data changed and not ``force`` (which retrains stage 1).
    """
    record = input_record(result_config(config), table, settings=result_settings(config))
    path = folder / INPUTS
    if path.is_file():
        try:
            changed = describe(json.loads(path.read_text()), record)
        except (OSError, ValueError, AttributeError) as error:
            changed = [f"its record is unreadable ({error})"]
        if changed and not force:
            raise RunFolderError(
                f"{folder}: stage 1 was trained on other source data: {'; '.join(changed)}; "
                "--force retrains it, or choose another name"
            )
        if changed:
            shutil.rmtree(folder, ignore_errors=True)
    elif (folder / "encoder.safetensors").exists() and not force:
        raise RunFolderError(f"{folder}: a stage-1 encoder without a record of its inputs "
                             f"({INPUTS}); --force retrains it")  # fmt: skip
    elif force:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


def result_config(config: ExperimentConfig) -> dict[str, Any]:
    """The resolved config without the settings in :data:`NEUTRAL`."""
    return _without_neutral(config.to_dict())


def result_settings(config: ExperimentConfig) -> dict[str, Any]:
    """The settings away from the defaults (:func:`~emotransfer.config.settings`) without
    those in :data:`NEUTRAL`: what a run's results depend on, and what its digest covers."""
    values = _without_neutral(settings(config))
    for name, field in type(config).model_fields.items():
        if values.get(name) == {} and field.get_default(call_default_factory=True) is not None:
            del values[name]  # a section left with neutral settings only (not an optional one)
    return values


def _without_neutral(values: dict[str, Any]) -> dict[str, Any]:
    for key in NEUTRAL:
        *path, last = key.split(".")
        node = values
        for part in path:
            node = node.get(part) or {}
        if isinstance(node, dict):
            node.pop(last, None)
    return values
