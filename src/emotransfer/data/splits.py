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

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from emotransfer.data.manifest import blank_cells


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
    missing = blank_cells(speaker)
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
    content: str = "text_id",
    content_folds: int | None = None,
    plugins: Sequence[str] = (),
) -> list[Fold]:
    """Build the outer folds of an experiment with the split registered as ``kind``
    (``registry.names("split")``, one file each in :mod:`emotransfer.data.split_kinds`, or a
    ``module:Class`` that ``plugins`` allows); each split takes the settings it names, the
    others are ignored."""
    from emotransfer import registry

    check_split_kind(kind, plugins=plugins)
    settings = {"folds": folds, "seed": seed, "column": column, "train_values": train_values,
                "test_values": test_values, "train_corpora": train_corpora,
                "test_corpora": test_corpora, "content": content,
                "content_folds": content_folds}  # fmt: skip
    accepted = inspect.signature(registry.resolve("split", kind, plugins=plugins)).parameters
    split = registry.build("split", kind, plugins=plugins,
                           **{k: v for k, v in settings.items() if k in accepted})  # fmt: skip
    return split.split(table)


def check_split_kind(kind: str, *, plugins: Sequence[str] = ()) -> str:
    """``kind`` if a split of that name is registered (or is a ``module:Class``: allowed or
    refused where it is built, against ``plugins``), else ``ValueError`` listing them."""
    from emotransfer import registry

    if ":" in kind:
        return kind
    if kind not in registry.names("split"):
        raise ValueError(f"{kind!r} is not a known split; known: {registry.names('split')}")
    return kind


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


def limit_per_class(folds: list[Fold], labels: np.ndarray, per_class: int, *,
                    seed: int) -> list[Fold]:  # fmt: skip
    """Each fold with at most ``per_class`` training rows of each label, drawn at random
    (seeded by ``seed`` and the fold's position, so a fold keeps its draw when others are
    skipped); the test rows stay as they are.

    Example:
        >>> fold = Fold("f", np.arange(6), np.array([6]))
        >>> kept = limit_per_class([fold], np.array(list("aaabbbb")), 2, seed=0)[0]
        >>> len(kept.train), sorted(set(np.array(list("aaabbbb"))[kept.train].tolist()))
        (4, ['a', 'b'])
    """
    limited = []
    for position, fold in enumerate(folds):
        rng = np.random.default_rng([seed, position])
        kept = []
        for label in np.unique(labels[fold.train]):
            rows = fold.train[labels[fold.train] == label]
            kept.append(rows if len(rows) <= per_class
                        else rng.choice(rows, per_class, replace=False))  # fmt: skip
        train = np.sort(np.concatenate(kept))
        limited.append(Fold(fold.name, train, fold.test, list(fold.held_out)))
    return limited
