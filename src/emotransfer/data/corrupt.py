"""Acoustic conditions: additive noise, reverberation, band limits, lossy codecs, clipping, gain.

Each corruption is a small class built like a scikit-learn estimator: the constructor stores its
keyword arguments unchanged and does no work, so ``describe()`` (name plus parameters) is a
complete record of it for run logs. Calling it corrupts one signal::

    corrupted = corruption(wave, sample_rate, rng)

``wave`` is a 1-D float array; the result is float32 mono of the same length. A parameter given
as a ``(low, high)`` pair is drawn uniformly from that range with ``rng`` on every call, so one
corruption serves as training augmentation and, with a fixed seed, rebuilds a corrupted test set
exactly. Outputs never hold NaN and their peak never exceeds 1: where a corruption would push it
higher, the whole signal is scaled down (a gain, not a clip), which leaves what the corruption
did (SNR, spectrum, codec artefacts) unchanged.

One file per corruption under :mod:`emotransfer.data.corruptions` (``noise``, ``reverb``,
``band_limit``, ``codec``, ``level`` (clip, gain), ``chain``), all re-exported here. Configs
name corruptions by their registry names (``registry.names("corruption")``);
:func:`build_corruption` turns a dict, or a list of dicts (a :class:`Chain`), into the callable.

Example:
    >>> rng = np.random.default_rng(0)
    >>> wave = 0.1 * np.sin(np.arange(16000) / 5.0)
    >>> corrupt = build_corruption(
    ...     [{"name": "noise", "snr_db": [5, 15]}, {"name": "gain", "db": -6}]
    ... )
    >>> corrupt(wave, 16000, rng).shape
    (16000,)
    >>> corrupt.describe()["steps"][0]
    {'name': 'noise', 'snr_db': [5, 15], 'noise': 'white'}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emotransfer import registry
from emotransfer.data.corruptions.band_limit import BandLimit, mu_law
from emotransfer.data.corruptions.base import Range, describe, draw
from emotransfer.data.corruptions.chain import Chain
from emotransfer.data.corruptions.codec import CODEC_FORMATS, Codec
from emotransfer.data.corruptions.level import Clip, Gain
from emotransfer.data.corruptions.noise import (
    NOISES,
    AddNoise,
    active_mask,
    babble_noise,
    brown_noise,
    pink_noise,
    white_noise,
)
from emotransfer.data.corruptions.reverb import Reverb, simulated_rir
from emotransfer.data.corruptions.sources import AUDIO_SUFFIXES, audio_files

__all__ = [
    "AUDIO_SUFFIXES", "CODEC_FORMATS", "NOISES", "AddNoise", "BandLimit", "Chain", "Clip",
    "Codec", "Gain", "Range", "Reverb", "active_mask", "audio_files", "babble_noise",
    "brown_noise", "build_corruption", "describe", "draw", "mu_law", "pink_noise",
    "simulated_rir", "white_noise",
]  # fmt: skip


def build_corruption(
    spec: dict[str, Any] | Sequence[dict[str, Any]], *, plugins: Sequence[str] = ()
) -> Callable[..., np.ndarray]:
    """Build a corruption from a config dict ``{"name": ..., **params}``; a list is a Chain.

    ``steps`` of a ``chain`` dict are built the same way; a ``name`` may be a ``module:Class``
    that ``plugins`` allows.

    Raises:
        KeyError: unknown name (the message lists the known ones).
        TypeError: parameters the corruption does not take.

    Example:
        >>> build_corruption({"name": "noise", "snr_db": 10})
        AddNoise(snr_db=10, noise='white')
        >>> build_corruption({"name": "echo"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        KeyError: "unknown corruption 'echo'; known: band_limit, chain, clip, codec, gain, ..."
    """
    if not isinstance(spec, dict):
        return Chain(steps=[build_corruption(step, plugins=plugins) for step in spec])
    params = dict(spec)
    name = params.pop("name", None)
    if not isinstance(name, str) or (":" not in name and name not in registry.names("corruption")):
        known = ", ".join(registry.names("corruption"))
        raise KeyError(f"unknown corruption {name!r}; known: {known}")
    if "steps" in params:
        params["steps"] = [build_corruption(step, plugins=plugins) for step in params["steps"]]
    return registry.build("corruption", name, plugins=plugins, **params)
