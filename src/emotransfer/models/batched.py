"""Running an :class:`~emotransfer.models.emotion_model.EmotionModel` over many items in eval
mode: length-sorted batches, results in input order.

``items`` is a list (the model's one modality) or ``{modality: list}``; batches are sorted by
the audio length where there is audio.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch

from emotransfer.models.emotion_model import EmotionModel, speaker_means, to_device

Items = Sequence[Any] | Mapping[str, Sequence[Any]]


def count(items: Items) -> int:
    """The number of items (each modality's list has one per clip)."""
    return len(next(iter(items.values()))) if isinstance(items, Mapping) else len(items)


def take(items: Items, rows: Sequence[int] | np.ndarray) -> Any:
    """The items at ``rows``, in the same layout (list or dict of lists); items streamed from
    files (:class:`~emotransfer.data.streamed.StreamedWaves`) stay streamed."""
    if isinstance(items, Mapping):
        return {name: _pick(values, rows) for name, values in items.items()}
    return _pick(items, rows)


def _pick(values: Sequence[Any], rows: Sequence[int] | np.ndarray) -> Any:
    subset = getattr(values, "subset", None)
    return subset(rows) if subset is not None else [values[i] for i in rows]


def lengths(items: Items) -> list[int]:
    """Per item, the audio length (0 where the items carry no audio); streamed audio says
    its lengths without decoding."""
    audio = items.get("audio") if isinstance(items, Mapping) else items
    if audio is None:
        return [0] * count(items)
    if hasattr(audio, "lengths"):
        return audio.lengths()
    return [len(item) if hasattr(item, "__len__") else 0 for item in audio]


@torch.no_grad()
def pool_all(
    model: EmotionModel, items: Items, batch_size: int,
    autocast: Callable[[], AbstractContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """:meth:`~EmotionModel.pool` of every item (e.g. ``{modality: (N, L + 1, P)}``: every
    hidden state pooled), in input order. ``autocast``: the mixed-precision context of the
    encoder pass."""
    model.eval()
    order = np.argsort(lengths(items))
    device = next(model.parameters()).device
    rows: list[dict[str, torch.Tensor]] = [{}] * count(items)
    for first in range(0, len(order), batch_size):
        indices = order[first : first + batch_size]
        batch = to_device(model.prepare(take(items, indices)), device)
        with autocast():
            pooled = model.pool(batch)
        for position, index in enumerate(indices):
            rows[index] = {name: value[position] for name, value in pooled.items()}
    return {name: torch.stack([row[name] for row in rows]) for name in rows[0]} if rows else {}


@torch.no_grad()
def prime_state_norms(model: EmotionModel, items: Items, batch_size: int) -> None:
    """Fill the statistics of every layer mix's unused
    :class:`~emotransfer.models.state_norm.StateNorm` that standardises frames (mixed inside
    :meth:`~EmotionModel.pool`) from one pass over ``items``; nothing else changes. For a
    head trained on pooled vectors before any training step (LP-FT)."""
    norms = [mix.norm for mix in model.mixes.values()
             if mix.norm is not None and not float(mix.norm.count)]  # fmt: skip
    if not norms or model.pools_per_layer:
        return
    model.eval()
    device = next(model.parameters()).device
    for norm in norms:
        norm.train()
    for first in range(0, count(items), batch_size):
        rows = range(first, min(first + batch_size, count(items)))
        model.pool(to_device(model.prepare(take(items, rows)), device))
    for norm in norms:
        norm.eval()


def pooled_float(model: EmotionModel, items: Items, batch_size: int) -> dict[str, torch.Tensor]:
    """:func:`pool_all` in float32 (what the model's decisions are computed on)."""
    return {name: value.float() for name, value in pool_all(model, items, batch_size).items()}


@torch.no_grad()
def predict_outputs(
    model: EmotionModel, items: Items, batch_size: int, speakers: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """Class logits ``(N, C)`` (float32) and, for a model with a dimensional head, its values
    ``(N, K)`` (else ``None``); with ``speakers`` (integer ids) a speaker-normalised model
    pools every item first, then normalises each by its speaker's mean over all the given
    items; with ``reference`` (an enrolled speaker's mean fused vector ``(F,)``) each item by
    it."""
    pooled = pooled_float(model, items, batch_size)
    device = next(iter(pooled.values())).device
    ids = None if speakers is None else torch.as_tensor(speakers, device=device)
    shift = None if reference is None else torch.as_tensor(reference, device=device).float()
    output = model.decide(pooled, ids, shift)
    values = output.dimensions
    return (output.logits.float().cpu().numpy(),
            None if values is None else values.float().cpu().numpy())  # fmt: skip


def predict_logits(
    model: EmotionModel, items: Items, batch_size: int, speakers: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Class logits ``(N, C)``: :func:`predict_outputs` without the values."""
    return predict_outputs(model, items, batch_size, speakers, reference)[0]


@torch.no_grad()
def speaker_mean(model: EmotionModel, items: Items, batch_size: int) -> np.ndarray:
    """``(F,)``: the mean fused vector (:meth:`~EmotionModel.fuse`) of one speaker's items,
    what a speaker-normalised model subtracts from each of them."""
    return model.fuse(pooled_float(model, items, batch_size)).mean(dim=0).cpu().numpy()


@torch.no_grad()
def keep_average_speaker(
    model: EmotionModel, items: Items, batch_size: int, speakers: np.ndarray
) -> torch.Tensor:  # fmt: skip
    """Store in a speaker-normalised model the average training speaker: the mean over the
    ``speakers`` of their clips' mean fused vector (:meth:`~EmotionModel.fuse` of ``items``).
    Returns it ``(F,)``."""
    fused = model.fuse(pooled_float(model, items, batch_size))
    _, first, ids = np.unique(np.asarray(speakers).astype(str), return_index=True,
                              return_inverse=True)  # fmt: skip
    rows = speaker_means(fused, torch.as_tensor(ids, device=fused.device))
    model.average_speaker.copy_(rows[torch.as_tensor(first)].mean(dim=0))  # one row a speaker
    return model.average_speaker


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` over the last axis, computed as the model does (torch,
    in the logits' precision)."""
    scaled = torch.as_tensor(logits)
    if temperature != 1.0:
        scaled = scaled / temperature
    return torch.softmax(scaled, dim=-1).numpy()


def predict_proba(
    model: EmotionModel, items: Items, batch_size: int, speakers: np.ndarray | None = None,
    *, temperature: float = 1.0, reference: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Class probabilities ``(N, C)``: the softmax of :func:`predict_logits` divided by
    ``temperature`` (a calibration fitted on held-out logits)."""
    return softmax(predict_logits(model, items, batch_size, speakers, reference), temperature)
