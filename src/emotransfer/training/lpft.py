"""Linear probing, then fine-tuning (LP-FT, Kumar et al. 2022), as an override of the
Trainer's ``on_fit_start`` hook.

On a fresh start every training clip is pooled once by the initial encoder (all hidden
states, no gradients) and the layer mix + head alone train on those vectors for
``head_epochs`` passes; then the strategy's parameters train from that head. A head that
starts random sends large gradients into the encoder and distorts the pretrained features;
starting from a trained head, the encoder moves less.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from emotransfer.models.batched import Items, count, pool_all, take
from emotransfer.seeding import torch_seed
from emotransfer.training.trainer import Trainer


class LPFTTrainer(Trainer):
    """A :class:`Trainer` that trains the head on frozen pooled states first.

    Args:
        head_epochs: passes of the head over the pooled training clips (epoch 0 of the
            history); the other arguments are the Trainer's.
    """

    def __init__(self, *, head_epochs: int = 10, **trainer: Any) -> None:
        super().__init__(**trainer)
        self.head_epochs = head_epochs

    def on_fit_start(self, state: dict[str, Any], items: Items, labels: np.ndarray) -> None:
        if not self.head_epochs or state.get("head_done"):
            return
        began = time.perf_counter()
        loss = self.fit_head(items, labels)
        record = {"epoch": 0, "loss": loss, "seconds": time.perf_counter() - began}
        self.close_epoch(state, record, head_done=True)

    def fit_head(self, items: Items, labels: np.ndarray) -> float:
        """Pool every clip once, train the layer mix and head on the pooled vectors (same
        batches, seeds and class weights as the epochs); returns the last pass's loss."""
        model = self.model
        rng = np.random.default_rng([self.seed, 0])
        clips = self.transform_crops(items, rng)
        pooled = pool_all(model, clips, self.batch_size, self.accelerator_.autocast)
        pooled = {name: value.float() for name, value in pooled.items()}
        optimizer = torch.optim.AdamW(model.head_parameters(), lr=self.learning_rate,
                                      weight_decay=self.weight_decay)  # fmt: skip
        device = next(iter(pooled.values())).device
        targets = torch.as_tensor(labels, device=device)
        rows_total = count(items)
        total, seen = 0.0, 0
        model.train()
        for step in range(1, self.head_epochs + 1):
            rng = np.random.default_rng([self.seed, 0, step])
            with torch_seed(self.seed * 100003 + step):
                if self.groups_ is None:
                    batches = np.array_split(
                        rng.permutation(rows_total), -(-rows_total // self.batch_size)
                    )
                else:
                    batches = self.sampler().batches(rng, [0] * rows_total)
                for rows in batches:
                    ids = None
                    if self.groups_ is not None:
                        ids = torch.as_tensor(self.groups_[rows], device=device)
                    output = model.decide({k: v[rows] for k, v in pooled.items()}, ids)
                    loss = self.batch_loss(output, targets[rows], self.batch_values(rows))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    if step == self.head_epochs:
                        total, seen = total + float(loss.detach()) * len(rows), seen + len(rows)
        return total / max(seen, 1)

    def transform_crops(self, items: Items, rng: np.random.Generator) -> Items:
        """The training crops of every clip (no augmentation: the probe sees the clips)."""
        return self.crop_items(take(items, range(count(items))), rng)
