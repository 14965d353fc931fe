"""openSMILE feature sets (eGeMAPSv02, ComParE_2016; functionals or low-level descriptors).

Example:
    >>> wave = (0.1 * np.sin(np.arange(16000) * 2 * np.pi * 200 / 16000)).astype("float32")
    >>> EGeMAPS().extract(wave).shape
    (1, 1, 88)
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import numpy as np
import opensmile

Level = Literal["functionals", "lld", "lld_deltas"]
LEVELS = {
    "functionals": opensmile.FeatureLevel.Functionals,
    "lld": opensmile.FeatureLevel.LowLevelDescriptors,
    "lld_deltas": opensmile.FeatureLevel.LowLevelDescriptors_Deltas,
}


class OpenSmile:
    """Any openSMILE standard feature set through the official ``opensmile`` package.

    Args:
        feature_set: a member name of ``opensmile.FeatureSet`` (e.g. ``"eGeMAPSv02"``).
        feature_level: ``"functionals"`` (one vector per clip) or ``"lld"`` (per frame).
        sample_rate: input rate in Hz.
    """

    def __init__(
        self,
        *,
        feature_set: str = "eGeMAPSv02",
        feature_level: Level = "functionals",
        sample_rate: int = 16000,
    ) -> None:
        self.feature_set = feature_set
        self.feature_level = feature_level
        self.sample_rate = sample_rate

    def extract(self, wave: np.ndarray) -> np.ndarray:
        smile = _smile(self.feature_set, self.feature_level)
        values = smile.process_signal(wave, self.sample_rate).to_numpy(dtype=np.float32)
        return values[None]  # (1, T, D): one hidden state

    def feature_names(self) -> list[str]:
        return list(_smile(self.feature_set, self.feature_level).feature_names)

    def identity(self) -> dict[str, Any]:
        return {
            "upstream": "opensmile",
            "feature_set": self.feature_set,
            "feature_level": self.feature_level,
            "sample_rate": self.sample_rate,
            "opensmile": opensmile.__version__,
        }


class EGeMAPS(OpenSmile):
    """eGeMAPSv02 (88 functionals or 25 LLDs), the minimal acoustic parameter set."""

    def __init__(self, *, feature_level: Level = "functionals", sample_rate: int = 16000) -> None:
        super().__init__(
            feature_set="eGeMAPSv02", feature_level=feature_level, sample_rate=sample_rate
        )


class ComParE(OpenSmile):
    """ComParE_2016 (6,373 functionals or 65 LLDs), the large brute-force set."""

    def __init__(self, *, feature_level: Level = "functionals", sample_rate: int = 16000) -> None:
        super().__init__(
            feature_set="ComParE_2016", feature_level=feature_level, sample_rate=sample_rate
        )


@cache
def _smile(feature_set: str, feature_level: str) -> opensmile.Smile:
    # One parsed configuration per process; building it is the slow part of a call.
    if feature_level not in LEVELS:
        raise ValueError(f"feature_level {feature_level!r}; known: {list(LEVELS)}")
    try:
        member = opensmile.FeatureSet[feature_set]
    except KeyError:
        known = [m.name for m in opensmile.FeatureSet]
        raise ValueError(f"unknown openSMILE feature_set {feature_set!r}; known: {known}") from None
    return opensmile.Smile(feature_set=member, feature_level=LEVELS[feature_level])
