"""What every corruption shares: parameters as constructor arguments, ranges, the output rules.

A corruption's constructor stores its keyword arguments unchanged and does no work, so
``describe()`` (name plus parameters) is a complete record of it for run logs. A parameter
given as a ``(low, high)`` pair is drawn with :func:`draw` on every call. :func:`finish` turns
a result into float32 mono without NaN and with a peak of at most 1 (scaled down, not
clipped).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

Range = float | tuple[float, float]


def draw(value: Range | Sequence[float], rng: np.random.Generator) -> float:
    """A fixed value, or one drawn uniformly from a ``(low, high)`` pair (list from a config).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> draw(3, rng), 2.0 <= draw((2, 4), rng) <= 4.0
        (3.0, True)
    """
    if isinstance(value, tuple | list):
        low, high = value
        return float(rng.uniform(low, high))
    return float(value)


class Corruption:
    """Parameters are the constructor arguments: ``describe`` and ``repr`` read them back."""

    name: ClassVar[str] = ""

    def params(self) -> dict[str, Any]:
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def describe(self) -> dict[str, Any]:
        """Name and parameters, for run records (json-serialisable for config values)."""
        return {"name": self.name, **self.params()}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params().items())
        return f"{type(self).__name__}({args})"


def describe(corruption: Callable[..., np.ndarray]) -> dict[str, Any] | str:
    """``corruption.describe()`` when it has one, else the name of the callable.

    Example:
        >>> from emotransfer.data.corruptions.level import Gain
        >>> describe(Gain(db=-3)), describe(np.flip)
        ({'name': 'gain', 'db': -3}, 'flip')
    """
    if hasattr(corruption, "describe"):
        return corruption.describe()
    return getattr(corruption, "__qualname__", type(corruption).__qualname__)


def as_mono(wave: np.ndarray) -> np.ndarray:
    """``wave`` as float64, refused unless 1-D."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ValueError(f"expected a mono 1-D signal, got shape {wave.shape}")
    return wave


def finish(wave: np.ndarray) -> np.ndarray:
    """float32, NaN and inf set to 0, scaled down to peak 1 where it is higher."""
    wave = np.nan_to_num(np.asarray(wave, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.max(np.abs(wave), initial=0.0))
    if peak > 1.0:
        wave = wave / peak
    return wave.astype(np.float32)


def fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad ``wave`` to ``length`` samples."""
    if wave.size >= length:
        return wave[:length]
    return np.concatenate([wave, np.zeros(length - wave.size, dtype=wave.dtype)])


def unit_rms(wave: np.ndarray) -> np.ndarray:
    """``wave`` scaled to RMS 1 (a silent one unchanged)."""
    rms = float(np.sqrt(np.mean(wave**2))) if wave.size else 0.0
    return wave / rms if rms > 0 else wave


def match_rms(wave: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``wave`` scaled to the RMS of ``reference`` (a silent one unchanged)."""
    rms = float(np.sqrt(np.mean(wave**2))) if wave.size else 0.0
    target = float(np.sqrt(np.mean(reference**2))) if reference.size else 0.0
    return wave * (target / rms) if rms > 0 else wave
