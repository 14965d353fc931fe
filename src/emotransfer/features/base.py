"""The upstream interface: audio in, every hidden representation out.

An upstream maps a mono waveform to an array of shape ``(L + 1, T, D)``: ``L + 1`` hidden
states (index 0 is the input embedding, transformers' convention; hand-crafted feature sets
have one), ``T`` frames (1 for utterance-level functionals) and ``D`` features.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Upstream(Protocol):
    """Feature extractor protocol.

    Attributes:
        sample_rate: rate in Hz the waveform must have.
    """

    sample_rate: int

    def extract(self, wave: np.ndarray) -> np.ndarray:
        """Map ``wave`` of shape ``(samples,)`` to ``(L + 1, T, D)`` float32."""
        ...

    def identity(self) -> dict[str, Any]:
        """Everything that changes the output (name, parameters, library versions)."""
        ...
