"""Harmonised emotion label space, per-corpus code maps, and label-set selection.

Every adapter maps its corpus' own codes to :class:`~emotransfer.define.Emotion` values
through the maps below. An experiment then picks a label set and says what happens to the
other labels: ``drop`` them or ``merge`` them into a target class.

Example:
    >>> harmonise("Angry")
    'anger'
    >>> spec = LabelSpec(classes=["anger", "happiness"], merge={"excitement": "happiness"})
    >>> apply_labels(pd.DataFrame({"emotion": ["anger", "excitement", "fear"]}), spec)[
    ...     "emotion"].tolist()
    ['anger', 'happiness']
"""

from __future__ import annotations

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
}

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
        merge: labels renamed before selection, e.g. ``{"excitement": "happiness"}``.
        other: ``"drop"`` removes rows outside ``classes``; a class name merges them into it.
    """

    classes: list[str] = field(default_factory=list)
    merge: dict[str, str] = field(default_factory=dict)
    other: str = "drop"


def apply_labels(table: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """Harmonise, merge and select labels; rows without a kept label are dropped."""
    emotion = table["emotion"].map(harmonise).replace(spec.merge)
    if spec.classes:
        outside = ~emotion.isin(spec.classes)
        if spec.other == "drop":
            table, emotion = table[~outside], emotion[~outside]
        else:
            emotion = emotion.where(~outside, spec.other)
    table = table.assign(emotion=emotion)
    return table[table["emotion"] != ""].reset_index(drop=True)


def label_summary(table: pd.DataFrame, before: pd.DataFrame) -> dict[str, object]:
    """What label selection did: counts per class after, and counts of labels dropped."""
    kept = table["emotion"].value_counts().sort_index().to_dict()
    original = before["emotion"].map(harmonise).value_counts().to_dict()
    return {
        "classes": kept,
        "rows_before": len(before),
        "rows_after": len(table),
        "labels_before": original,
    }
