"""Corruptions applied one after another, all or none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emotransfer.data.corruptions.base import Corruption, as_mono, describe, finish


class Chain(Corruption):
    """Apply ``steps`` in order, all of them with ``probability`` (else return the input).

    One number is drawn from ``rng`` for the decision even when ``probability`` is 1.

    Example:
        >>> from emotransfer.data.corruptions.level import Clip, Gain
        >>> chain = Chain(steps=[Gain(db=-6), Clip(level=0.5)], probability=1.0)
        >>> chain(np.array([0.2, -1.0]), 16000, np.random.default_rng(0)).astype(float).round(3)
        array([ 0.1  , -0.251])
    """

    name = "chain"

    def __init__(
        self, *, steps: Sequence[Callable[..., np.ndarray]], probability: float = 1.0
    ) -> None:
        self.steps = steps
        self.probability = probability

    def __call__(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        wave = as_mono(wave)
        if rng.random() >= self.probability:
            return finish(wave)
        for step in self.steps:
            wave = step(wave, sample_rate, rng)
        return finish(wave)

    def describe(self) -> dict[str, Any]:
        steps = [describe(step) for step in self.steps]
        return {"name": self.name, "steps": steps, "probability": self.probability}
