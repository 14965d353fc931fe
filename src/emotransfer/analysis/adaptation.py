"""Layer-wise adaptation: which layers of an encoder changed when it was fine-tuned.

Two views per hidden-state index ``0..L`` (0 = the embedding before the first transformer
layer, ``i + 1`` = the output of transformer layer ``i``, as in transformers'
``output_hidden_states``):

- representation change: linear CKA (Kornblith et al. 2019) between the hidden states of the
  encoder before and after fine-tuning on the same held-out clips (1 = same representation
  up to rotation and scale);
- weight change: ``||W_after - W_before||_F / ||W_before||_F`` over the parameters that
  compute that hidden state.

The measures live in :mod:`~emotransfer.analysis.cka`, :mod:`~emotransfer.analysis.weight_change`
and :mod:`~emotransfer.analysis.parameter_layers` (parameter name -> hidden state), all
re-exported here; this module runs both on two encoders (:func:`adaptation_report`).

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 8))
    >>> round(linear_cka(x, 3.0 * x @ np.linalg.qr(rng.normal(size=(8, 8)))[0]), 6)
    1.0

Usage (two model folders, e.g. a checkpoint and its fine-tuned copy)::

    before, after = HFEncoder(model="models/wavlm-base"), HFEncoder(model="runs/wavlm-ft")
    report = adaptation_report(
        before, after, held_out_waves, num_layers=before.num_layers,
        state_before=AutoModel.from_pretrained("models/wavlm-base").state_dict(),
        state_after=AutoModel.from_pretrained("runs/wavlm-ft").state_dict(),
        layer_of=layer_index_for(AutoConfig.from_pretrained("models/wavlm-base")),
    )
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import torch

from emotransfer.analysis.cka import MAX_FRAMES, POOLINGS, Pooling, linear_cka, representation_cka
from emotransfer.analysis.parameter_layers import (
    EMBEDDING_MODULES,
    ENCODER_NORMS,
    LAYER,
    WRAPPER_PREFIXES,
    EncoderNorm,
    canonical_name,
    layer_index,
    layer_index_for,
)
from emotransfer.analysis.weight_change import weight_change

__all__ = [
    "EMBEDDING_MODULES", "ENCODER_NORMS", "LAYER", "MAX_FRAMES", "POOLINGS", "WRAPPER_PREFIXES",
    "Encoder", "EncoderNorm", "Pooling", "adaptation_report", "canonical_name", "layer_index",
    "layer_index_for", "linear_cka", "representation_cka", "weight_change",
]  # fmt: skip


class Encoder(Protocol):
    """Anything that turns waveforms into all ``L + 1`` hidden states, e.g. ``HFEncoder``."""

    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """One ``(L + 1, T, D)`` array per waveform ``(samples,)``."""
        ...


def adaptation_report(
    encoder_before: Encoder,
    encoder_after: Encoder,
    waves: list[np.ndarray],
    *,
    state_before: Mapping[str, torch.Tensor],
    state_after: Mapping[str, torch.Tensor],
    num_layers: int,
    layer_of: Callable[[str], int | None] | None = None,
    pooling: Pooling = "mean",
) -> dict[str, Any]:
    """Representation and weight change per hidden state of a fine-tuned encoder.

    Args:
        encoder_before: the encoder before fine-tuning (e.g. ``HFEncoder`` on its folder).
        encoder_after: the fine-tuned encoder.
        waves: held-out clips ``(samples,)`` that both encoders see.
        state_before: parameters before fine-tuning (``model.state_dict()``).
        state_after: parameters after (LoRA merged: see :func:`weight_change`).
        num_layers: ``L``, the number of transformer layers.
        layer_of: parameter name -> hidden-state index; default :func:`layer_index` with
            the encoder norm at ``L``. Post-LN wav2vec2-style base models (wav2vec2-base,
            HuBERT/WavLM base, data2vec-audio) normalise before the first layer: pass
            ``layer_index_for(config)``.
        pooling: see :func:`representation_cka`.

    Returns:
        ``{"layers": [{"layer", "cka", "weight_change"}, ...] for 0..L (weight change
        ``None`` where no parameter maps to the layer), "most_adapted": layer indices by
        decreasing 1 - CKA, "pooling": pooling}``.

    Raises:
        ValueError: the encoders' outputs do not have ``num_layers + 1`` hidden states, or
            see :func:`representation_cka` and :func:`weight_change`.

    Example:
        >>> class Fixed:
        ...     def __init__(self, states): self.states = states
        ...     def extract_batch(self, waves): return self.states
        >>> rng = np.random.default_rng(0)
        >>> same = [rng.normal(size=(2, 3, 4)) for _ in range(5)]
        >>> moved = [np.stack([s[0], rng.normal(size=(3, 4))]) for s in same]
        >>> state = {"encoder.layers.0.fc.weight": torch.ones(3)}
        >>> report = adaptation_report(
        ...     Fixed(same), Fixed(moved), [np.zeros(8)] * 5, num_layers=1,
        ...     state_before=state, state_after={"encoder.layers.0.fc.weight": torch.zeros(3)})
        >>> report["most_adapted"], report["layers"][1]["weight_change"]
        ([1, 0], 1.0)
    """
    layer_of = layer_of or functools.partial(layer_index, num_layers=num_layers)
    states_before = encoder_before.extract_batch(waves)
    states_after = encoder_after.extract_batch(waves)
    for side, states in (("before", states_before), ("after", states_after)):
        if any(len(clip) != num_layers + 1 for clip in states):
            raise ValueError(f"encoder {side}: expected {num_layers + 1} hidden states per clip")
    cka = representation_cka(states_before, states_after, pooling=pooling)
    change = weight_change(state_before, state_after, layer_of)
    rows = [
        {"layer": layer, "cka": cka[layer], "weight_change": change.get(layer)}
        for layer in range(num_layers + 1)
    ]
    most_adapted = sorted(range(num_layers + 1), key=lambda layer: (cka[layer], layer))
    return {"layers": rows, "most_adapted": most_adapted, "pooling": pooling}
