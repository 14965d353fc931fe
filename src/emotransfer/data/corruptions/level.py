"""Level changes: hard clipping and gain."""

from __future__ import annotations

import numpy as np

from emotransfer.data.corruptions.base import Corruption, Range, as_mono, draw, finish


class Clip(Corruption):
    """Hard clipping at ``level`` times the signal peak (no make-up gain).

    Example:
        >>> Clip(level=0.5)(np.array([0.0, 0.3, -0.8]), 16000, np.random.default_rng(0)).tolist()
        [0.0, 0.30000001192092896, -0.4000000059604645]
    """

    name = "clip"

    def __init__(self, *, level: Range = 0.3) -> None:
        self.level = level

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = as_mono(wave)
        level = draw(self.level, rng)
        if not 0 < level <= 1:
            raise ValueError(f"clip level must be in (0, 1], got {level}")
        threshold = level * float(np.max(np.abs(wave), initial=0.0))
        return finish(np.clip(wave, -threshold, threshold))


class Gain(Corruption):
    """Scale by ``db`` decibels; a result past full scale is scaled back to peak 1.

    Example:
        >>> Gain(db=-20)(np.array([0.5, -1.0]), 16000, np.random.default_rng(0)).astype(float)
        array([ 0.05, -0.1 ])
    """

    name = "gain"

    def __init__(self, *, db: Range) -> None:
        self.db = db

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        return finish(as_mono(wave) * 10 ** (draw(self.db, rng) / 20))
