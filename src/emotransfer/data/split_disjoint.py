"""Folds disjoint in speakers AND in content: the honest protocol for text (and for any
model that can memorise what is said).

With fixed sentences (EmoDB's 10, SAVEE's lists, TAVA's 16 words) a leave-one-speaker-out
test clip says a sentence the training clips said too, so a model of the words (a text
encoder on the transcript, or an audio model that learns the sentences) scores by lookup.
This split partitions the speakers into ``folds`` groups and the content values (a column
such as ``text_id`` or ``text``) into ``content_folds`` groups; fold ``(i, j)`` tests the
clips of speaker group ``i`` saying content of group ``j`` and trains on the clips of the
other speakers saying the other content. Clips of a held-out speaker saying training
content, or of a training speaker saying held-out content, are in neither side of that
fold. Over the ``folds x content_folds`` folds every clip is tested exactly once; each fold
trains on about ``(1 - 1/folds) (1 - 1/content_folds)`` of the clips.

Inner folds of the ridge that learns the dimensions are disjoint in content too
(:func:`inner_disjoint_splits`); those of the head's tuning, calibration and validation
speakers stay speaker-grouped inside each training side: a content value can be on both sides
of such an inner fold, so that tuning may favour a model that memorises; the outer test is
content-disjoint whatever is tuned.

Groups are a seeded shuffle of the sorted values cut into near-equal parts (so a fold's
name, ``speakers=i,content=j``, means the same groups for the same seed and data).

Example:
    >>> table = pd.DataFrame({"corpus": ["c"] * 8, "speaker": list("aabbccdd"),
    ...                       "text_id": ["s1", "s2"] * 4, "emotion": ["x", "y"] * 4})
    >>> folds = SpeakerContentDisjoint(folds=2, content_folds=2).split(table)
    >>> [fold.name for fold in folds]
    ['speakers=1,content=1', 'speakers=1,content=2', 'speakers=2,content=1', 'speakers=2,content=2']
    >>> sorted(int(row) for fold in folds for row in fold.test) == list(range(8))
    True
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from emotransfer.data.manifest import blank_cells
from emotransfer.data.splits import Fold, speaker_keys


class SpeakerContentDisjoint:
    """Folds held out by speaker group and content group at once (see the module).

    Args:
        folds: speaker groups (at least 2, at most the number of speakers).
        content: the manifest column naming what is said (``text_id``, ``text``, ...).
        content_folds: content groups (``None``: as many as ``folds``).
        seed: seeds the assignment of speakers and content values to groups.
    """

    def __init__(
        self, *, folds: int = 5, content: str = "text_id", content_folds: int | None = None,
        seed: int = 0,
    ) -> None:  # fmt: skip
        self.folds = folds
        self.content = content
        self.content_folds = content_folds
        self.seed = seed

    def split(self, table: pd.DataFrame) -> list[Fold]:
        speakers = speaker_keys(table)
        content = content_values(table, self.content)
        content_folds = self.content_folds or self.folds
        speaker_groups = _groups(speakers, self.folds, "speakers", [self.seed, 0])
        content_groups = _groups(content, content_folds, f"{self.content} values",
                                 [self.seed, 1])  # fmt: skip
        result = []
        for i, held_speakers in enumerate(speaker_groups):
            in_speakers = np.isin(speakers, held_speakers)
            for j, held_content in enumerate(content_groups):
                in_content = np.isin(content, held_content)
                test = np.flatnonzero(in_speakers & in_content)
                train = np.flatnonzero(~in_speakers & ~in_content)
                if not len(test) or not len(train):
                    raise ValueError(
                        f"disjoint split: fold speakers={i + 1},content={j + 1} has "
                        f"{len(train)} training and {len(test)} test rows (its speakers "
                        f"never say its {self.content} values, or say nothing else): use "
                        "fewer folds or content_folds"
                    )
                held = [*held_speakers, *(f"{self.content}={value}" for value in held_content)]
                result.append(Fold(f"speakers={i + 1},content={j + 1}", train, test, held))
        return result


def content_values(table: pd.DataFrame, column: str) -> np.ndarray:
    """The content column as text; a missing column or empty cells raise ``ValueError``
    naming the column and a row's file."""
    if column not in table:
        raise ValueError(f"disjoint split: the manifest has no column {column!r} (the "
                         "content held out with the speakers); columns: "
                         f"{sorted(table.columns)}")  # fmt: skip
    values = table[column]
    missing = blank_cells(values)
    if missing.any():
        example = table.loc[missing, "file"].iloc[0] if "file" in table else "?"
        raise ValueError(f"disjoint split: {int(missing.sum())} row(s) have no {column!r} "
                         f"(e.g. {example}); every clip needs its content")  # fmt: skip
    return values.astype(str).str.strip().to_numpy()


def _groups(values: np.ndarray, count: int, what: str, seed: list[int]) -> list[list[str]]:
    unique = sorted(set(values.tolist()))
    if count < 2 or count > len(unique):
        raise ValueError(f"disjoint split: {count} groups of {what}, but there are "
                         f"{len(unique)} (need 2 <= groups <= {len(unique)})")  # fmt: skip
    order = np.random.default_rng(seed).permutation(len(unique))
    return [[unique[k] for k in sorted(part)] for part in np.array_split(order, count)]


def inner_disjoint_splits(
    groups: np.ndarray, content: np.ndarray, *, folds: int, seed: int, every_pair: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validation splits inside a training side of a disjoint split, disjoint in speakers
    AND content too, so what tuning rewards is what the outer test asks: ``folds`` speaker
    groups and content groups paired (validation: speaker group i saying content group i;
    training: the other speakers saying the other content). Pairs with an empty side are
    left out. ``every_pair``: every (speaker group, content group) pair, so that each row is
    validated once (out-of-fold predictions of every row).

    Raises:
        ValueError: fewer than 2 speakers or content values, or no pair with both sides.
    """
    count = min(folds, len(set(groups.tolist())), len(set(content.tolist())))
    speakers = _groups(np.asarray(groups), count, "speakers", [seed, 2])
    contents = _groups(np.asarray(content), count, "content values", [seed, 3])
    pairs = (itertools.product(speakers, contents) if every_pair
             else zip(speakers, contents))  # fmt: skip
    result = []
    for held_speakers, held_content in pairs:
        in_speakers, in_content = np.isin(groups, held_speakers), np.isin(content, held_content)
        valid = np.flatnonzero(in_speakers & in_content)
        train = np.flatnonzero(~in_speakers & ~in_content)
        if len(valid) and len(train):
            result.append((train, valid))
    if not result:
        raise ValueError("no inner fold disjoint in speakers and content has both sides")
    return result
