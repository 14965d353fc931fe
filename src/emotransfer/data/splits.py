"""Speaker-independent splits and the audit every run records.

Speakers are keyed as ``corpus/speaker`` so equal codes in two corpora stay distinct. The
audit refuses a fold that puts a speaker on both sides (leakage), and a fold whose test rows
hold a class its training rows lack: that class can never be learnt there, yet it would
count in the fold's UAR (merge it into another class, or drop it with
:func:`drop_unlearnable`).

Example:
    >>> table = pd.DataFrame({"corpus": ["c"] * 6, "speaker": list("aabbcc"),
    ...                       "emotion": ["x", "y"] * 3})
    >>> [fold.name for fold in make_folds(table, kind="loso")]
    ['speaker=a', 'speaker=b', 'speaker=c']
    >>> audit_folds(table, make_folds(table, kind="loso"))["ok"]
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from emotransfer.define import SplitKind


class LeakageError(ValueError):
    """A split puts one speaker on both sides and the config does not allow it."""


class UnlearnableClassError(ValueError):
    """A fold tests a class that none of its training rows has."""


@dataclass(frozen=True)
class Fold:
    """One train/test partition: row positions into the manifest."""

    name: str
    train: np.ndarray
    test: np.ndarray
    held_out: list[str] = field(default_factory=list)


def speaker_keys(table: pd.DataFrame) -> np.ndarray:
    """``corpus/speaker`` per row; rows without a speaker raise ``ValueError``."""
    speaker = table["speaker"]
    # pandas >= 3 keeps NaN/None as missing through astype(str), so test isna() too
    missing = speaker.isna() | speaker.astype(str).str.strip().isin(["", "nan", "None"])
    if missing.any():
        example = table.loc[missing, "file"].iloc[0] if "file" in table else "?"
        raise ValueError(
            f"{int(missing.sum())} row(s) have no speaker (e.g. {example}): "
            "speaker-independent splits need a speaker for every row"
        )
    return (table["corpus"].astype(str) + "/" + table["speaker"].astype(str)).to_numpy()


def make_folds(
    table: pd.DataFrame,
    *,
    kind: str,
    folds: int = 5,
    seed: int = 0,
    column: str = "split",
    train_values: Sequence[str] = ("train",),
    test_values: Sequence[str] = ("test",),
    train_corpora: Sequence[str] = (),
    test_corpora: Sequence[str] = (),
) -> list[Fold]:
    """Build the outer folds of an experiment; see :class:`~emotransfer.define.SplitKind`."""
    SplitKind.validate(kind)
    if kind == SplitKind.LOSO:
        return _leave_one_out(table, speaker_keys(table), "speaker", strip_corpus=True)
    if kind == SplitKind.LOSESSO:
        if "session" not in table:
            raise ValueError("leave_one_session_out needs a 'session' column in the manifest")
        sessions = (table["corpus"].astype(str) + "/" + table["session"].astype(str)).to_numpy()
        return _leave_one_out(table, sessions, "session", strip_corpus=True)
    if kind == SplitKind.SPEAKER_KFOLD:
        return _speaker_kfold(table, folds=folds, seed=seed)
    if kind == SplitKind.PREDEFINED:
        return [_predefined(table, column, train_values, test_values)]
    return [_cross_corpus(table, train_corpora, test_corpora)]


def inner_splits(
    groups: np.ndarray, labels: np.ndarray, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Speaker-grouped validation splits inside a training fold (for tuning)."""
    count = min(folds, len(np.unique(groups)))
    if count < 2:
        raise ValueError("inner validation needs at least 2 speakers in the training fold")
    splitter = StratifiedGroupKFold(n_splits=count, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def audit_folds(
    table: pd.DataFrame, folds: list[Fold], *, kind: str = "", allow_leakage: bool = False
) -> dict[str, object]:
    """Check that no speaker is on both sides of any fold and that every class tested in a
    fold is also in its training rows.

    Raises:
        LeakageError: a fold leaks and ``allow_leakage`` is false.
        UnlearnableClassError: a fold tests a class absent from its training rows (see
            :func:`unlearnable_classes`).
    """
    keys = speaker_keys(table)
    overlap = {}
    for fold in folds:
        shared = sorted(set(keys[fold.train]) & set(keys[fold.test]))
        if shared:
            overlap[fold.name] = shared
    if overlap and not allow_leakage:
        detail = "; ".join(f"{name}: {', '.join(s[:5])}" for name, s in overlap.items())
        raise LeakageError(
            f"speaker leakage: {detail}. Set split.allow_leakage=true to run it anyway "
            "(the report will flag the results as speaker-dependent)"
        )
    check_learnable(table, folds)
    note = "no speaker appears in both train and test in any fold"
    if overlap:
        note = "LEAKAGE ALLOWED BY CONFIG: some speakers appear in train and test"
    return {
        "split": kind,
        "folds": len(folds),
        "speaker_overlap": overlap,
        "leakage_allowed": allow_leakage,
        "ok": not overlap,
        "note": note,
    }


def unlearnable_classes(table: pd.DataFrame, folds: list[Fold]) -> dict[str, list[str]]:
    """Per fold, the classes in its test rows but in none of its training rows.

    Example:
        >>> table = pd.DataFrame({"corpus": ["c"] * 5, "speaker": list("aabbc"),
        ...                       "emotion": ["x", "y", "x", "y", "z"]})
        >>> unlearnable_classes(table, make_folds(table, kind="loso"))
        {'speaker=c': ['z']}
    """
    emotion = table["emotion"].astype(str).to_numpy()
    result = {}
    for fold in folds:
        missing = sorted(set(emotion[fold.test]) - set(emotion[fold.train]))
        if missing:
            result[fold.name] = missing
    return result


def check_learnable(table: pd.DataFrame, folds: list[Fold]) -> None:
    """Raise :class:`UnlearnableClassError` naming each fold, class and the speakers holding
    it when a fold tests a class its training rows lack."""
    if "emotion" not in table:
        return
    unlearnable = unlearnable_classes(table, folds)
    if not unlearnable:
        return
    keys, emotion = speaker_keys(table), table["emotion"].astype(str).to_numpy()
    details = []
    for fold in folds:
        for name in unlearnable.get(fold.name, []):
            rows = fold.test[emotion[fold.test] == name]
            speakers = sorted(set(keys[rows]))
            details.append(f"class {name!r} in fold {fold.name} (test speakers with it: "
                           f"{', '.join(speakers[:5])}; {len(rows)} rows)")  # fmt: skip
    raise UnlearnableClassError(
        f"{len(details)} class(es) are tested in a fold whose training rows have none, so they "
        f"can never be learnt there but would count in its UAR: {'; '.join(details[:10])}. "
        "Merge them into another class with data.labels.merge, leave them out of "
        "data.labels.classes, or set split.unlearnable=drop to remove their rows from every "
        "fold (listed as skipped)"
    )


def drop_unlearnable(
    table: pd.DataFrame, folds_of: Callable[[pd.DataFrame], list[Fold]]
) -> tuple[pd.DataFrame, dict[str, list[str]], list[dict[str, str]]]:
    """Remove every row of the classes some fold of ``folds_of(table)`` cannot learn, until
    none is left (removing rows can change speaker k-fold assignments).

    Returns:
        The table kept, ``{fold: [class, ...]}`` of what was found, and one
        ``{"file", "problem"}`` per row removed.

    Raises:
        ValueError: fewer than two classes would remain.

    Example:
        >>> table = pd.DataFrame({"file": list("12345"), "corpus": ["c"] * 5,
        ...     "speaker": list("aabbc"), "emotion": ["x", "y", "x", "y", "z"]})
        >>> kept, found, skipped = drop_unlearnable(table, lambda t: make_folds(t, kind="loso"))
        >>> kept["emotion"].tolist(), found, skipped[0]["file"]
        (['x', 'y', 'x', 'y'], {'speaker=c': ['z']}, '5')
    """
    found: dict[str, list[str]] = {}
    skipped: list[dict[str, str]] = []
    while unlearnable := unlearnable_classes(table, folds_of(table)):
        for fold, names in unlearnable.items():
            found[fold] = sorted({*found.get(fold, []), *names})
        classes = sorted({name for names in unlearnable.values() for name in names})
        drop = table["emotion"].astype(str).isin(classes).to_numpy()
        if table.loc[~drop, "emotion"].nunique() < 2:
            raise ValueError(f"split.unlearnable=drop: dropping {classes} (unlearnable in "
                             f"{sorted(unlearnable)[:5]}) leaves fewer than 2 classes")  # fmt: skip
        for file, name in zip(table.loc[drop, "file"], table.loc[drop, "emotion"]):
            folds = ", ".join(f for f, names in unlearnable.items() if name in names)
            skipped.append({"file": str(file), "problem": f"class {name!r} cannot be learnt in "
                            f"fold {folds} (split.unlearnable=drop)"})  # fmt: skip
        table = table[~drop].reset_index(drop=True)
    return table, found, skipped


def _leave_one_out(
    table: pd.DataFrame, groups: np.ndarray, label: str, *, strip_corpus: bool
) -> list[Fold]:
    values = list(dict.fromkeys(sorted(groups)))
    if len(values) < 2:
        raise ValueError(f"leave-one-{label}-out needs at least 2 {label}s, found {len(values)}")
    single_corpus = table["corpus"].nunique() == 1
    result = []
    for value in values:
        test = np.flatnonzero(groups == value)
        shown = value.split("/", 1)[1] if strip_corpus and single_corpus else value
        result.append(Fold(f"{label}={shown}", np.flatnonzero(groups != value), test, [value]))
    return result


def _speaker_kfold(table: pd.DataFrame, *, folds: int, seed: int) -> list[Fold]:
    keys = speaker_keys(table)
    if len(np.unique(keys)) < folds:
        raise ValueError(f"speaker_kfold with {folds} folds needs >= {folds} speakers")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    labels = table["emotion"].to_numpy()
    return [
        Fold(f"fold={i + 1}", train, test, sorted(set(keys[test])))
        for i, (train, test) in enumerate(splitter.split(np.zeros(len(table)), labels, keys))
    ]


def _predefined(
    table: pd.DataFrame, column: str, train_values: Sequence[str], test_values: Sequence[str]
) -> Fold:
    if column not in table:
        raise ValueError(f"predefined split: the manifest has no column {column!r}")
    values = table[column].astype(str).str.lower()
    train = np.flatnonzero(values.isin([v.lower() for v in train_values]))
    test = np.flatnonzero(values.isin([v.lower() for v in test_values]))
    if not len(train) or not len(test):
        raise ValueError(
            f"predefined split on {column!r}: {len(train)} train and {len(test)} test rows "
            f"(values present: {sorted(values.unique())[:10]})"
        )
    return Fold(f"{column}={'+'.join(test_values)}", train, test, list(test_values))


def _cross_corpus(
    table: pd.DataFrame, train_corpora: Sequence[str], test_corpora: Sequence[str]
) -> Fold:
    corpora = table["corpus"].astype(str)
    for name in [*train_corpora, *test_corpora]:
        if name not in set(corpora):
            raise ValueError(
                f"cross_corpus: corpus {name!r} is not loaded; have {sorted(set(corpora))}"
            )
    if not train_corpora or not test_corpora:
        raise ValueError("cross_corpus needs split.train_corpora and split.test_corpora")
    train = np.flatnonzero(corpora.isin(train_corpora))
    test = np.flatnonzero(corpora.isin(test_corpora))
    return Fold(
        f"{'+'.join(train_corpora)}->{'+'.join(test_corpora)}", train, test, list(test_corpora)
    )
