"""Out-of-tree data components for the tests, reached only as ``module:Class`` plugins."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emotransfer.data.splits import Fold, speaker_keys


class FirstSpeakerOut:
    """A split of one fold: the first speaker in sort order is the test set."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def split(self, table: pd.DataFrame) -> list[Fold]:
        keys = speaker_keys(table)
        first = sorted(set(keys))[0]
        test = np.flatnonzero(keys == first)
        return [Fold(f"first={first}", np.flatnonzero(keys != first), test, [first])]


class Silence:
    """A corruption that multiplies the signal by ``gain`` (0: silence)."""

    def __init__(self, *, gain: float = 0.0) -> None:
        self.gain = gain

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        return (wave * self.gain).astype(np.float32)
