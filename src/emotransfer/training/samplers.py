"""Batch samplers of the training loop: which rows make each step's batch.

Both draw only from the epoch's generator, so an epoch's batches are fixed by
``(seed, epoch)`` and a resumed run repeats them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class LengthBatches:
    """Shuffled rows, sorted by length within windows of 16 batches: less padding, still
    shuffled."""

    def __init__(self, *, batch_size: int) -> None:
        self.batch_size = batch_size

    def batches(self, rng: np.random.Generator, lengths: Sequence[int]) -> list[np.ndarray]:
        order = rng.permutation(len(lengths))
        window = self.batch_size * 16
        batches = []
        for first in range(0, len(order), window):
            chunk = sorted(order[first : first + window], key=lambda i: lengths[i])
            batches += [np.array(chunk[i : i + self.batch_size])
                        for i in range(0, len(chunk), self.batch_size)]  # fmt: skip
        return batches


class SpeakerBatches:
    """One speaker per batch, so a batch mean is that speaker's mean (speaker-normalised
    models); a short remainder joins the speaker's previous batch rather than giving a mean of
    one or two clips.

    Args:
        batch_size: rows per batch.
        groups: integer speaker id per row.
    """

    def __init__(self, *, batch_size: int, groups: np.ndarray) -> None:
        self.batch_size = batch_size
        self.groups = groups

    def batches(self, rng: np.random.Generator, lengths: Sequence[int]) -> list[np.ndarray]:
        batches = []
        for speaker in rng.permutation(np.unique(self.groups)):
            rows = rng.permutation(np.flatnonzero(self.groups == speaker))
            chunks = [rows[i : i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
            if len(chunks) > 1 and len(chunks[-1]) < self.batch_size // 2:
                last = chunks.pop()
                chunks[-1] = np.concatenate([chunks[-1], last])
            batches += chunks
        return [batches[i] for i in rng.permutation(len(batches))]
