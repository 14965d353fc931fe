"""The outer splits, one class each, registered in the ``split`` table of the registry.

Each takes its settings as keyword arguments (stored, no work) and returns the folds of a
manifest from ``split(table)``; a new protocol is one class here plus one registry line.

Example:
    >>> table = pd.DataFrame({"corpus": ["c"] * 4, "speaker": list("aabb"),
    ...                       "emotion": ["x", "y"] * 2})
    >>> [fold.name for fold in LeaveOneSpeakerOut().split(table)]
    ['speaker=a', 'speaker=b']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from emotransfer.data.splits import Fold, speaker_keys


class LeaveOneSpeakerOut:
    """Each speaker (``corpus/speaker``) is the test set once."""

    def split(self, table: pd.DataFrame) -> list[Fold]:
        return _leave_one_out(table, speaker_keys(table), "speaker", strip_corpus=True)


class LeaveOneSessionOut:
    """Each recording session (``corpus/session``; IEMOCAP) is the test set once."""

    def split(self, table: pd.DataFrame) -> list[Fold]:
        if "session" not in table:
            raise ValueError("leave_one_session_out needs a 'session' column in the manifest")
        sessions = (table["corpus"].astype(str) + "/" + table["session"].astype(str)).to_numpy()
        return _leave_one_out(table, sessions, "session", strip_corpus=True)


class SpeakerKFold:
    """``folds`` speaker-disjoint folds, stratified by emotion (seeded)."""

    def __init__(self, *, folds: int = 5, seed: int = 0) -> None:
        self.folds = folds
        self.seed = seed

    def split(self, table: pd.DataFrame) -> list[Fold]:
        return _speaker_kfold(table, folds=self.folds, seed=self.seed)


class Predefined:
    """One fold from a manifest column (official partitions: train / test values)."""

    def __init__(
        self,
        *,
        column: str = "split",
        train_values: Sequence[str] = ("train",),
        test_values: Sequence[str] = ("test",),
    ) -> None:
        self.column = column
        self.train_values = train_values
        self.test_values = test_values

    def split(self, table: pd.DataFrame) -> list[Fold]:
        return [_predefined(table, self.column, self.train_values, self.test_values)]


class CrossCorpus:
    """One fold: train on ``train_corpora``, test on ``test_corpora``."""

    def __init__(
        self, *, train_corpora: Sequence[str] = (), test_corpora: Sequence[str] = ()
    ) -> None:
        self.train_corpora = train_corpora
        self.test_corpora = test_corpora

    def split(self, table: pd.DataFrame) -> list[Fold]:
        return [_cross_corpus(table, self.train_corpora, self.test_corpora)]


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
