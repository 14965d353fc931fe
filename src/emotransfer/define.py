"""Fixed vocabularies as validated constant classes (after audformat's ``define``).

Example:
    >>> Emotion.ANGER
    'anger'
    >>> Emotion.validate("sadness")
    'sadness'
"""

from __future__ import annotations

import re


class _Vocabulary:
    """A constant class whose upper-case attributes form a closed set of strings."""

    @classmethod
    def values(cls) -> list[str]:
        return [v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)]

    @classmethod
    def validate(cls, value: str) -> str:
        """Return ``value`` if it belongs to the vocabulary, else raise ``ValueError``."""
        if value not in cls.values():
            raise ValueError(f"{value!r} is not a valid {cls.__name__}; known: {cls.values()}")
        return value


class Emotion(_Vocabulary):
    """Harmonised emotion categories shared by every corpus."""

    ANGER = "anger"
    BOREDOM = "boredom"
    CALM = "calm"
    CONTEMPT = "contempt"
    DISGUST = "disgust"
    FEAR = "fear"
    FRUSTRATION = "frustration"
    HAPPINESS = "happiness"
    NEUTRAL = "neutral"
    OTHER = "other"
    SADNESS = "sadness"
    SURPRISE = "surprise"
    # Russell quadrants used by music emotion sets (4Q): valence/arousal sign pairs.
    Q1 = "q1"
    Q2 = "q2"
    Q3 = "q3"
    Q4 = "q4"


class Domain(_Vocabulary):
    SPEECH = "speech"
    MUSIC = "music"


class SplitKind(_Vocabulary):
    LOSO = "loso"
    SPEAKER_KFOLD = "speaker_kfold"
    LOSESSO = "leave_one_session_out"
    PREDEFINED = "predefined"
    CROSS_CORPUS = "cross_corpus"
    DISJOINT = "disjoint"


class Dimension(_Vocabulary):
    AROUSAL = "arousal"
    VALENCE = "valence"
    DOMINANCE = "dominance"


class Pooling(_Vocabulary):
    MEAN = "mean"
    STD = "std"
    MEAN_STD = "mean_std"


class Normalization(_Vocabulary):
    NONE = "none"
    GLOBAL = "global"
    SPEAKER = "speaker"
    CORPUS = "corpus"
    AUTO = "auto"  # speaker where every speaker shows several classes, else corpus or global


# The inputs a model may take. An input named ``audio_<name>`` is a second view of the clip's
# audio (log-mel frames beside a pretrained encoder's, say): its encoder reads the same
# waveform as ``audio``'s.
MODALITIES = ("audio", "text", "video")
AUDIO_VIEW = re.compile(r"audio_[a-z0-9][a-z0-9_]*")


def is_audio_view(name: str) -> bool:
    """Whether the input ``name`` is a view of the clip's audio (``audio_<name>``).

    Example:
        >>> is_audio_view("audio_logmel"), is_audio_view("audio"), is_audio_view("text")
        (True, False, False)
    """
    return bool(AUDIO_VIEW.fullmatch(name))


def audio_like(name: str) -> bool:
    """Whether the items of the input ``name`` are the clip's audio (``audio`` or a view)."""
    return name == "audio" or is_audio_view(name)
