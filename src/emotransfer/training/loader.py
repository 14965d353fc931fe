"""The training loop's batches, decoded ahead by worker processes when the audio is streamed.

With the audio in memory a batch is its rows' items (:func:`~emotransfer.models.batched.take`).
With :class:`~emotransfer.data.streamed.StreamedWaves` every batch decodes its clips from their
files: :func:`batches_of` hands the epoch's batches (already drawn, in order, by the seeded
sampler) to a :class:`torch.utils.data.DataLoader` whose ``workers`` processes decode and
resample the next batches while the model trains on this one, so the batches, crops and
results are those of the in-memory run and memory holds a few batches of audio.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from emotransfer.models.batched import Items, take


def streamed(items: Items) -> bool:
    """Whether any of ``items`` is decoded on access (has ``subset``)."""
    values = items.values() if isinstance(items, Mapping) else [items]
    return any(hasattr(value, "subset") for value in values)


def decoded(items: Items) -> Items:
    """``items`` with every streamed sequence decoded into a list."""
    if isinstance(items, Mapping):
        return {name: decoded(values) for name, values in items.items()}
    return list(items) if hasattr(items, "subset") else items


class _Batches(torch.utils.data.Dataset):
    def __init__(self, items: Items, batches: Sequence[np.ndarray]) -> None:
        self.items, self.batches = items, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, number: int) -> Items:
        return decoded(take(self.items, self.batches[number]))


def _unchanged(batch: Any) -> Any:
    return batch


def batches_of(items: Items, batches: Sequence[np.ndarray],
               workers: int = 2) -> Iterator[tuple[np.ndarray, Items]]:  # fmt: skip
    """Each batch's rows and items, in order; streamed items decoded by ``workers`` processes
    (two batches ahead each; ``0``: in this process)."""
    if not streamed(items) or not batches:
        for rows in batches:
            yield rows, take(items, rows)
        return
    # a generator of its own: the loader draws its workers' base seed, which would otherwise
    # come from torch's global generator and change the epoch's dropout
    loader = torch.utils.data.DataLoader(
        _Batches(items, batches), batch_size=None, shuffle=False, num_workers=workers,
        collate_fn=_unchanged, prefetch_factor=2 if workers else None,
        generator=torch.Generator(),
    )  # fmt: skip
    yield from zip(batches, loader)
