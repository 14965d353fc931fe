"""Linear probing, then fine-tuning (LP-FT, Kumar et al. 2022), as an override of the
Trainer's ``on_fit_start`` hook.

On a fresh start every training clip is pooled once by the initial encoder (all hidden
states, no gradients) and the layer mix + head alone train on those vectors for
``head_epochs`` passes; then the strategy's parameters train from that head. A head that
starts random sends large gradients into the encoder and distorts the pretrained features;
starting from a trained head, the encoder moves less.

``recipe="probe"`` trains that head as the frozen weighted-sum probe does (full-batch steps,
the classifier's weight decay chosen on inner speaker folds:
:func:`~emotransfer.training.probe_head.fit_head_like_probe`) instead of minibatch passes.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import torch

from emotransfer.models.batched import Items, count, pool_all, prime_state_norms, take
from emotransfer.seeding import torch_seed
from emotransfer.training.probe_head import fit_head_like_probe
from emotransfer.training.trainer import Trainer


class LPFTTrainer(Trainer):
    """A :class:`Trainer` that trains the head on frozen pooled states first.

    Args:
        head_epochs: passes of the head over the pooled training clips (epoch 0 of the
            history); with ``recipe="probe"``, full-batch steps.
        recipe: ``"epochs"`` (minibatch passes at the trainer's learning rate) or
            ``"probe"`` (the weighted-sum probe's fit: full batch, learning rate 1e-2, the
            classifier's weight decay chosen on ``inner_folds`` speaker folds).
        inner_folds: inner folds of the ``"probe"`` recipe.

    The other arguments are the Trainer's.
    """

    def __init__(self, *, head_epochs: int = 10, recipe: Literal["epochs", "probe"] = "epochs",
                 inner_folds: int = 5, **trainer: Any) -> None:  # fmt: skip
        super().__init__(**trainer)
        self.head_epochs = head_epochs
        self.recipe = recipe
        self.inner_folds = inner_folds

    def fit(self, items: Items, labels: np.ndarray, *, groups: np.ndarray | None = None,
            **options: Any) -> list[dict[str, float]]:  # fmt: skip
        """:meth:`Trainer.fit`, keeping the clips' speakers for the probe recipe's folds."""
        self.speakers_ = None if groups is None else np.asarray(groups)
        return super().fit(items, labels, groups=groups, **options)

    def on_fit_start(self, state: dict[str, Any], items: Items, labels: np.ndarray) -> None:
        if not self.head_epochs or state.get("head_done"):
            return
        began = time.perf_counter()
        record: dict[str, float] = {"epoch": 0}
        if self.recipe == "probe":
            record["loss"], record["weight_decay"] = self.fit_head_probe(items, labels)
        else:
            record["loss"] = self.fit_head(items, labels)
        record["seconds"] = time.perf_counter() - began
        self.close_epoch(state, record, head_done=True)

    def fit_head_probe(self, items: Items, labels: np.ndarray) -> tuple[float, float]:
        """Pool every clip once, fit the head as the weighted-sum probe is fitted; returns
        the last step's loss and the chosen weight decay."""
        model = self.model
        pooled = self.pooled_clips(items)
        device = next(iter(pooled.values())).device
        targets = torch.as_tensor(labels, device=device)
        rows = count(items)
        groups = self.speakers_ if self.speakers_ is not None else np.arange(rows)
        ids = None if self.groups_ is None else torch.as_tensor(self.groups_, device=device)

        def loss(output: Any, chosen: np.ndarray) -> torch.Tensor:
            return self.batch_loss(output, targets[chosen], self.batch_values(chosen))

        with torch_seed(self.seed * 100003):
            decay, last = fit_head_like_probe(model, pooled, np.asarray(labels), groups, ids,
                                              loss, steps=self.head_epochs,
                                              folds=self.inner_folds, seed=self.seed)  # fmt: skip
        return last, decay

    def fit_head(self, items: Items, labels: np.ndarray) -> float:
        """Pool every clip once, train the layer mix and head on the pooled vectors (same
        batches, seeds and class weights as the epochs); returns the last pass's loss."""
        model = self.model
        pooled = self.pooled_clips(items)
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

    def pooled_clips(self, items: Items) -> dict[str, torch.Tensor]:
        """Every training clip's crop pooled once by the initial model, in float32 (a layer
        mix's state norms first filled from them)."""
        clips = self.transform_crops(items, np.random.default_rng([self.seed, 0]))
        prime_state_norms(self.model, clips, self.batch_size)
        pooled = pool_all(self.model, clips, self.batch_size, self.accelerator_.autocast)
        return {name: value.float() for name, value in pooled.items()}

    def transform_crops(self, items: Items, rng: np.random.Generator) -> Items:
        """The training crops of every clip (no augmentation: the probe sees the clips)."""
        return self.crop_items(take(items, range(count(items))), rng)
