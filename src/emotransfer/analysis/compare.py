"""Compare systems on the same test clips: paired UAR differences, McNemar tests, error
overlap, the probability-averaging ensemble and the oracle bound.

A system is a run folder (its ``predictions.csv``) or a predictions CSV with the columns
``file``, ``true`` and ``predicted``, and optionally ``start``/``end`` (segments), ``speaker``
and ``prob_<class>``. The systems must cover the same clips with the same true labels; they
are matched on (file, start, end), so row order does not matter.

Every interval comes from a bootstrap over clips, or over whole speakers with
``unit="speaker"`` (clips of one speaker are not independent). The first system is the
reference. For every other one the report gives its UAR minus the reference's with a paired
interval (both scored on the same resampled clips), and the exact McNemar test on the clips
only one of the two gets right. The ensemble averages the class probabilities of all systems.
The oracle counts a clip as right when any system gets it right: no combination of these
systems' decisions can score higher, so it bounds what ensembling them could reach.

Example:
    >>> report = compare(["runs/probe", "runs/lora"])  # doctest: +SKIP
    >>> report["pairs"][0]["uar_difference"]  # doctest: +SKIP
    {'value': -0.024, 'ci_low': -0.05, 'ci_high': 0.004}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emotransfer.evaluation.metrics import classification_report, mcnemar, uar_difference

KEY = ["file", "start", "end"]
PROB = "prob_"


def load_predictions(source: str | Path) -> pd.DataFrame:
    """A system's predictions: ``source/predictions.csv`` for a run folder, else the CSV itself.

    Raises:
        FileNotFoundError: no such file, or a folder without ``predictions.csv``.
        ValueError: required columns missing, a label missing, or a clip listed twice.
    """
    path = Path(source)
    csv = path / "predictions.csv" if path.is_dir() else path
    if not csv.is_file():
        raise FileNotFoundError(f"{source}: no predictions (a run folder or a predictions CSV)")
    table = pd.read_csv(csv, dtype={"true": str, "predicted": str})
    missing = {"file", "true", "predicted"} - set(table.columns)
    if missing:
        raise ValueError(f"{csv}: missing column(s) {', '.join(sorted(missing))}")
    blank = table["true"].isna() | table["predicted"].isna()
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0]) + 2  # 1-based, after the header
        raise ValueError(f"{csv}: line {row} has no true or predicted label")
    for column in ("start", "end"):
        if column not in table:
            table[column] = np.nan
    text = [table[column].map(lambda value: "" if pd.isna(value) else str(value)) for column in KEY]
    key = text[0].str.cat(text[1:], sep="|")
    if key.duplicated().any():
        raise ValueError(f"{csv}: clip {key[key.duplicated()].iloc[0]!r} is listed twice")
    return table.set_index(key)


def align(tables: Sequence[pd.DataFrame], names: Sequence[str]) -> list[pd.DataFrame]:
    """The tables in the first one's clip order.

    Raises:
        ValueError: a system lacks clips of the reference or has extra ones, or the true
            labels of a clip differ.
    """
    first = tables[0]
    aligned = [first]
    for table, name in zip(tables[1:], names[1:]):
        lacking = first.index.difference(table.index)
        extra = table.index.difference(first.index)
        if len(lacking) or len(extra):
            example = (lacking if len(lacking) else extra)[0].split("|")[0]
            raise ValueError(
                f"{name}: {len(lacking)} clip(s) of {names[0]} missing and {len(extra)} extra "
                f"(e.g. {example}); compare systems tested on the same clips"
            )
        table = table.loc[first.index]
        differ = table["true"].to_numpy() != first["true"].to_numpy()
        if differ.any():
            clip = first.index[differ][0].split("|")[0]
            raise ValueError(f"{name}: the true label of {clip} differs from {names[0]}'s")
        aligned.append(table)
    return aligned


def compare(
    sources: Sequence[str | Path],
    *,
    names: Sequence[str] | None = None,
    unit: str = "clip",
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare two or more systems; the first is the reference (see the module docstring).

    Args:
        sources: run folders or predictions CSVs.
        names: one per source (default: the folder or file name).
        unit: what the bootstrap resamples: ``"clip"`` or ``"speaker"`` (the ``speaker``
            column of the first system that has one).
    """
    if len(sources) < 2:
        raise ValueError("compare needs at least two systems")
    names = list(names) if names else [_default_name(Path(s)) for s in sources]
    if len(names) != len(sources):
        raise ValueError(f"{len(names)} name(s) for {len(sources)} system(s)")
    if len(set(names)) < len(names):
        raise ValueError(f"system names must differ, got {names}; give names")
    if unit not in ("clip", "speaker"):
        raise ValueError(f"unit must be 'clip' or 'speaker', got {unit!r}")
    tables = align([load_predictions(source) for source in sources], names)
    groups = None
    if unit == "speaker":
        with_speaker = [table for table in tables if "speaker" in table]
        if not with_speaker:
            raise ValueError("unit 'speaker' needs a speaker column in one of the systems")
        groups = with_speaker[0]["speaker"].astype(str).to_numpy()
    classes = sorted(set().union(*(set(t["true"]) | set(t["predicted"]) for t in tables)))
    code = {label: i for i, label in enumerate(classes)}
    truth = tables[0]["true"].map(code).to_numpy()
    guesses = [table["predicted"].map(code).to_numpy() for table in tables]
    settings = {"bootstrap": bootstrap, "confidence": confidence, "seed": seed, "groups": groups}

    def score(guess: np.ndarray) -> dict[str, Any]:
        summary = classification_report(truth, guess, classes, **settings)["summary"]
        return {**summary, "errors": int(np.sum(guess != truth))}

    systems = [{"name": name, "source": str(source), **score(guess)}
               for name, source, guess in zip(names, sources, guesses)]  # fmt: skip
    pairs = [
        {
            "system": name,
            "reference": names[0],
            "uar_difference": uar_difference(truth, guesses[0], guess, len(classes), **settings),
            "mcnemar": _named(mcnemar(guesses[0] == truth, guess == truth), names[0], name),
        }
        for name, guess in zip(names[1:], guesses[1:])
    ]
    right = np.stack([guess == truth for guess in guesses])
    oracle = np.where(right.any(axis=0), truth, guesses[0])
    return {
        "clips": len(truth),
        "classes": classes,
        "unit": unit,
        "systems": systems,
        "pairs": pairs,
        "all_wrong": int(np.sum(~right.any(axis=0))),
        "ensemble": _ensemble(tables, names, classes, score),
        "oracle": score(oracle),
    }


def _default_name(path: Path) -> str:
    """A run folder's name; for ``RUN/predictions.csv`` the run's; else the file's stem."""
    return path.parent.name if path.name == "predictions.csv" else path.stem


def _named(test: dict[str, Any], first: str, second: str) -> dict[str, Any]:
    return {"only_right": {first: test["only_first"], second: test["only_second"]},
            "both_wrong": test["both_wrong"], "p_value": test["p_value"]}  # fmt: skip


def _ensemble(
    tables: list[pd.DataFrame],
    names: list[str],
    classes: list[str],
    score: Callable[[np.ndarray], dict[str, Any]],
) -> dict[str, Any] | None:
    """Mean class probabilities of all systems; None when one has no ``prob_`` columns.

    A class missing from a system's columns scores 0 there; a clip without probabilities
    (e.g. a fold whose training data lacked a class) votes with its one-hot decision.
    """
    columns = [PROB + label for label in classes]
    members = []
    for table, name in zip(tables, names):
        own = [column for column in columns if column in table]
        if not own:
            return None
        values = table.reindex(columns=columns).fillna(0.0).to_numpy(float)
        blank = table[own].isna().any(axis=1).to_numpy()
        decided = np.eye(len(classes))[table["predicted"].map(classes.index).to_numpy()]
        values[blank] = decided[blank]
        if not np.isfinite(values).all():
            raise ValueError(f"{name}: probabilities hold non-finite values")
        members.append(values)
    guess = np.mean(members, axis=0).argmax(axis=1)
    return {"members": names, **score(guess)}
