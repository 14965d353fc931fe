"""Harmonised emotion label space, per-corpus code maps, and label-set selection.

Every adapter maps its corpus' own codes to :class:`~emotransfer.define.Emotion` values
through the maps below. An experiment then picks a label set and says what happens to the
other labels: ``drop`` them or ``merge`` them into a target class.

A label outside :data:`VOCABULARY` (after :func:`harmonise` and ``merge``), such as a typo
or a corpus' own word (``annoyed``), is refused unless the spec says what to do with it:
list the ``classes`` to use (labels outside them follow ``other``), or ``other="keep"``.
Without this rule a typo would become a class of one clip.

Example:
    >>> harmonise("Angry")
    'anger'
    >>> spec = LabelSpec(classes=["anger", "happiness"], merge={"excitement": "happiness"})
    >>> apply_labels(pd.DataFrame({"emotion": ["anger", "excitement", "fear"]}), spec)[
    ...     "emotion"].tolist()
    ['anger', 'happiness']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import pandas as pd

from emotransfer.define import Emotion

SYNONYMS = {
    "angry": Emotion.ANGER,
    "anger": Emotion.ANGER,
    "ang": Emotion.ANGER,
    "happy": Emotion.HAPPINESS,
    "happiness": Emotion.HAPPINESS,
    "hap": Emotion.HAPPINESS,
    "joy": Emotion.HAPPINESS,
    "excited": "excitement",
    "excitement": "excitement",
    "exc": "excitement",
    "sad": Emotion.SADNESS,
    "sadness": Emotion.SADNESS,
    "neutral": Emotion.NEUTRAL,
    "neu": Emotion.NEUTRAL,
    "fear": Emotion.FEAR,
    "fearful": Emotion.FEAR,
    "fea": Emotion.FEAR,
    "disgust": Emotion.DISGUST,
    "disgusted": Emotion.DISGUST,
    "dis": Emotion.DISGUST,
    "surprise": Emotion.SURPRISE,
    "surprised": Emotion.SURPRISE,
    "sur": Emotion.SURPRISE,
    "pleasant surprise": Emotion.SURPRISE,
    "ps": Emotion.SURPRISE,
    "boredom": Emotion.BOREDOM,
    "bored": Emotion.BOREDOM,
    "calm": Emotion.CALM,
    "contempt": Emotion.CONTEMPT,
    "frustration": Emotion.FRUSTRATION,
    "frustrated": Emotion.FRUSTRATION,
    "fru": Emotion.FRUSTRATION,
    "other": Emotion.OTHER,
    "oth": Emotion.OTHER,
    "q1": Emotion.Q1,
    "q2": Emotion.Q2,
    "q3": Emotion.Q3,
    "q4": Emotion.Q4,
}

# Per-corpus codes as they appear in the distributed file names or label files.
CORPUS_MAPS: dict[str, dict[str, str]] = {
    "emodb": {
        "W": "anger",
        "L": "boredom",
        "E": "disgust",
        "A": "fear",
        "F": "happiness",
        "T": "sadness",
        "N": "neutral",
    },
    "ravdess": {
        "01": "neutral",
        "02": "calm",
        "03": "happiness",
        "04": "sadness",
        "05": "anger",
        "06": "fear",
        "07": "disgust",
        "08": "surprise",
    },
    "crema_d": {
        "ANG": "anger",
        "DIS": "disgust",
        "FEA": "fear",
        "HAP": "happiness",
        "NEU": "neutral",
        "SAD": "sadness",
    },
    "tess": {
        "angry": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "happy": "happiness",
        "neutral": "neutral",
        "ps": "surprise",
        "sad": "sadness",
    },
    "savee": {
        "a": "anger",
        "d": "disgust",
        "f": "fear",
        "h": "happiness",
        "n": "neutral",
        "sa": "sadness",
        "su": "surprise",
    },
    "emovo": {
        "rab": "anger",
        "dis": "disgust",
        "pau": "fear",
        "gio": "happiness",
        "neu": "neutral",
        "tri": "sadness",
        "sor": "surprise",
    },
    "shemo": {
        "A": "anger",
        "H": "happiness",
        "N": "neutral",
        "S": "sadness",
        "W": "surprise",
        "F": "fear",
    },
    "urdu": {
        "Angry": "anger",
        "Happy": "happiness",
        "Neutral": "neutral",
        "Sad": "sadness",
        "A": "anger",
        "H": "happiness",
        "N": "neutral",
        "S": "sadness",
    },
    "iemocap": {
        "ang": "anger",
        "hap": "happiness",
        "exc": "excitement",
        "sad": "sadness",
        "neu": "neutral",
        "fru": "frustration",
        "fea": "fear",
        "sur": "surprise",
        "dis": "disgust",
        "oth": "other",
        "xxx": "other",
    },
    "msp_podcast": {
        "A": "anger",
        "H": "happiness",
        "S": "sadness",
        "N": "neutral",
        "U": "surprise",
        "F": "fear",
        "D": "disgust",
        "C": "contempt",
        "O": "other",
        "X": "other",
    },
    "meld": {
        "anger": "anger",
        "disgust": "disgust",
        "fear": "fear",
        "joy": "happiness",
        "neutral": "neutral",
        "sadness": "sadness",
        "surprise": "surprise",
    },
}

# The labels harmonise() and the corpus maps produce; IEMOCAP keeps excitement apart until a
# config merges it (usually into happiness).
VOCABULARY = [*Emotion.values(), "excitement"]
OTHER_CHOICES = ("drop", "keep")

FOUR_CLASS = [Emotion.ANGER, Emotion.HAPPINESS, Emotion.NEUTRAL, Emotion.SADNESS]
MUSIC_TO_SPEECH = {
    Emotion.Q1: Emotion.HAPPINESS,
    Emotion.Q2: Emotion.ANGER,
    Emotion.Q3: Emotion.SADNESS,
    Emotion.Q4: Emotion.CALM,
}


def harmonise(label: str) -> str:
    """Map a free-form label to the harmonised vocabulary (lower-cased synonyms)."""
    key = str(label).strip().lower()
    return SYNONYMS.get(key, key)


def label_text(value: object) -> str:
    """A label cell as text, stripped; ``""`` for a missing one (``None``, NaN, blank).

    Example:
        >>> label_text(" angry "), label_text(float("nan")), label_text(None), label_text(3)
        ('angry', '', '', '3')
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def map_code(corpus: str, code: str, *, source: str = "") -> str:
    """Map one corpus-specific code to a harmonised label; unknown codes raise ``ValueError``."""
    mapping = CORPUS_MAPS[corpus]
    if code not in mapping:
        where = f" in {source}" if source else ""
        raise ValueError(f"{corpus}: unknown emotion code {code!r}{where}; known: {list(mapping)}")
    return mapping[code]


@dataclass(frozen=True)
class LabelSpec:
    """Which classes an experiment uses and what happens to the others.

    Args:
        classes: the label set; empty means every label present after merging.
        merge: labels renamed before selection, e.g. ``{"excitement": "happiness"}``; keys
            are harmonised (``excited`` matches ``excitement``).
        other: with ``classes``, what happens to labels outside them: ``"drop"`` removes
            their rows, a class name merges them into it. Without ``classes``, what happens
            to labels outside :data:`VOCABULARY`: ``"keep"`` keeps them as classes of their
            own, a class name merges them into it, ``"drop"`` (the default) refuses them.
        harmonised: the labels are emotions, read through :func:`harmonise` and held to
            :data:`VOCABULARY`; ``False`` for another target (a ``data.labels.column`` such
            as ``vocalization``), whose labels are taken as they are (stripped) and all kept
            unless ``classes`` says otherwise.
    """

    classes: list[str] = field(default_factory=list)
    merge: dict[str, str] = field(default_factory=dict)
    other: str = "drop"
    harmonised: bool = True


def check_other(other: str, classes: list[str]) -> str:
    """Return ``other`` if it is ``drop``, ``keep`` (without classes) or a known class.

    Raises:
        ValueError: anything else, e.g. a typo (the message suggests the closest class).

    Example:
        >>> check_other("neutral", [])
        'neutral'
        >>> check_other("neutrl", ["anger", "neutral"])
        Traceback (most recent call last):
        ...
        ValueError: 'neutrl' is not 'drop', 'keep' or a class (did you mean 'neutral'?)
    """
    if other == "keep" and classes:
        raise ValueError("'keep' keeps every label as its own class, which contradicts "
                         "data.labels.classes: use 'drop' or one of the classes")  # fmt: skip
    if other in OTHER_CHOICES or other in classes or other in VOCABULARY:
        return other
    close = _closest(other, classes)
    hint = f" (did you mean {close!r}?)" if close else ""
    raise ValueError(f"{other!r} is not 'drop', 'keep' or a class{hint}")


def apply_labels(table: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """Harmonise, merge and select labels; rows without a kept label are dropped.

    Raises:
        ValueError: ``spec.other`` is not valid, or (without ``classes`` and ``other``)
            labels outside :data:`VOCABULARY`, listed with row counts and an example file.
    """
    try:
        check_other(spec.other, spec.classes)
    except ValueError as error:
        raise ValueError(f"data.labels.other: {error}") from None
    emotion = merged_labels(table, spec)
    outside = ~emotion.isin(spec.classes or _known(spec, emotion)) & (emotion != "")
    if not spec.classes and outside.any() and spec.other == "drop":
        files = table["file"] if "file" in table else pd.Series("?", index=table.index)
        raise unknown_labels_error(files[outside].tolist(), emotion[outside].tolist())
    if spec.other == "drop":
        table, emotion = table[~outside], emotion[~outside]
    elif spec.other != "keep":
        emotion = emotion.where(~outside, spec.other)
    table = table.assign(emotion=emotion)
    return table[table["emotion"] != ""].reset_index(drop=True)


def merged_labels(table: pd.DataFrame, spec: LabelSpec) -> pd.Series:
    """The emotion column harmonised, then renamed by ``spec.merge``."""
    read = harmonise if spec.harmonised else _stripped
    merge = {read(key): value for key, value in spec.merge.items()}
    return table["emotion"].map(read).replace(merge)


def _stripped(label: str) -> str:
    return str(label).strip()


def _known(spec: LabelSpec, labels: pd.Series) -> list[str]:
    """The labels kept without ``classes``: the vocabulary, or (another target) every one."""
    return list(VOCABULARY) if spec.harmonised else list(labels.unique())


def unknown_labels_error(files: list[str], labels: list[str]) -> ValueError:
    """The error for labels outside the vocabulary (one per row, with its file): each label
    with its row count and an example file, and the ways to proceed."""
    listed = []
    for label in sorted(set(labels)):
        count = labels.count(label)
        rows = "row" if count == 1 else "rows"
        close = _closest(label, [])
        hint = f"; did you mean {close!r}?" if close else ""
        listed.append(f"{label!r} ({count} {rows}, e.g. {files[labels.index(label)]}{hint})")
    first = min(labels)
    more = f" and {len(listed) - 10} more" if len(listed) > 10 else ""
    return ValueError(
        f"data.labels: {len(listed)} label(s) outside the harmonised vocabulary: "
        f"{', '.join(listed[:10])}{more}. Say what to do with them: map them to known labels with "
        f"data.labels.merge (e.g. {{{first}: anger}}), list the classes to use in "
        "data.labels.classes (labels outside them then follow data.labels.other: drop, or a "
        "class to merge them into), or set data.labels.other=keep to keep them as classes of "
        f"their own. Known labels: {', '.join(VOCABULARY)}"
    )


def label_summary(
    table: pd.DataFrame, before: pd.DataFrame, spec: LabelSpec | None = None
) -> dict[str, object]:
    """What label selection did: counts per class after, counts of labels before, and (with
    ``spec``) the labels dropped or merged into ``spec.other``, with their row counts."""
    kept = table["emotion"].value_counts().sort_index().to_dict()
    read = harmonise if spec is None or spec.harmonised else _stripped
    original = before["emotion"].map(read).value_counts().to_dict()
    summary: dict[str, object] = {
        "classes": kept,
        "rows_before": len(before),
        "rows_after": len(table),
        "labels_before": original,
    }
    if spec is not None:
        emotion = merged_labels(before, spec)
        outside = emotion[~emotion.isin(spec.classes or _known(spec, emotion)) & (emotion != "")]
        counts = outside.value_counts().sort_index().to_dict()
        summary["dropped_labels"] = counts if spec.other == "drop" else {}
        summary["merged_into_other"] = counts if spec.other not in OTHER_CHOICES else {}
    return summary


def _closest(label: str, classes: list[str]) -> str | None:
    close = difflib.get_close_matches(label, [*classes, *VOCABULARY], n=1)
    return close[0] if close else None
