"""Few-shot baselines for MAML: transfer, multitask and training from scratch.

Each learner meta-fits on the pooled source rows (or nothing) and adapts to a target with a
new output layer fine-tuned on the K support clips per class (:class:`AdaptedClassifier`).
Every optimisation is :func:`~emotransfer.models.fullbatch.fit_full_batch`, seeded by
``seed`` without touching the caller's torch generator.

* :class:`TransferBaseline`: pre-train on all source rows pooled, fine-tune on the support set.
* :class:`MultitaskBaseline`: a shared trunk with one head per source task; adapt = new head.
* :class:`ScratchBaseline`: the same MLP trained on the support set only.

Shapes: ``features`` ``(N, D)`` float, ``labels`` ``(N,)`` int, ``groups`` ``(N,)`` any
hashable ids (source task of each row). Labels of different source tasks are harmonised
(one id = one emotion everywhere); the pooled baselines rely on that.

Example:
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(2), 10)
    >>> features = 3.0 * np.eye(3)[labels] + rng.normal(0, 0.5, (20, 3))
    >>> transfer = TransferBaseline(hidden=8, epochs=30).meta_fit(features, labels, None)
    >>> transfer.adapt(features[::2], labels[::2]).predict(features[:3]).tolist()
    [0, 0, 0]
"""

from __future__ import annotations

import copy
from typing import Self

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch.nn import functional

from emotransfer.models.adapted import AdaptedClassifier, as_tensors, encode_labels, mlp
from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.models.losses import balanced_class_weights
from emotransfer.seeding import torch_seed


class _SupportFineTuning(BaseEstimator):
    """Adaptation shared by the baselines: a new output layer, then Adam on the support set."""

    hidden: int
    adapt_lr: float
    adapt_steps: int
    finetune_trunk: bool
    seed: int

    def _trunk(self, inputs: int) -> torch.nn.Module:
        """The network below the output layer for ``inputs`` features."""
        raise NotImplementedError

    def adapt(
        self, support_features: np.ndarray, support_labels: np.ndarray, steps: int | None = None
    ) -> AdaptedClassifier:
        """New output layer for the target's classes; fine-tune it (and the trunk if
        ``finetune_trunk``) for ``steps`` (default ``adapt_steps``) Adam steps."""
        classes, encoded = encode_labels(support_labels)
        inputs, targets = as_tensors(support_features, encoded)
        with torch_seed(self.seed):
            trunk = self._trunk(inputs.shape[1])
            output = torch.nn.Linear(self.hidden, len(classes))
            network = torch.nn.Sequential(trunk, output)
            trained = network.parameters() if self.finetune_trunk else output.parameters()
            fit_full_batch(
                lambda: functional.cross_entropy(network(inputs), targets),
                list(trained),
                steps=self.adapt_steps if steps is None else steps,
                learning_rate=self.adapt_lr,
                optimizer="adam",
                modules=[network],
            )
        return AdaptedClassifier(network, classes)


class ScratchBaseline(_SupportFineTuning):
    """The MLP trained from random initialisation on the support set alone (no source data).

    Args:
        hidden: hidden units.
        adapt_lr: Adam learning rate on the support set.
        adapt_steps: full-batch Adam steps.
        seed: seeds the initialisation.
    """

    finetune_trunk = True

    def __init__(
        self, *, hidden: int = 64, adapt_lr: float = 1e-2, adapt_steps: int = 100, seed: int = 0
    ) -> None:
        self.hidden = hidden
        self.adapt_lr = adapt_lr
        self.adapt_steps = adapt_steps
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Nothing to learn from the sources; :meth:`adapt` works without this call."""
        return self

    def _trunk(self, inputs: int) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(inputs, self.hidden), torch.nn.ReLU())


class TransferBaseline(_SupportFineTuning):
    """Pre-train the MLP on all source rows pooled, then fine-tune on the support set.

    Pre-training is multi-class over the union of the (harmonised) source labels with
    class-balanced cross-entropy; adaptation replaces the output layer.

    Args:
        hidden: hidden units.
        learning_rate: AdamW learning rate of pre-training.
        epochs: full-batch pre-training steps.
        weight_decay: AdamW weight decay of pre-training.
        adapt_lr: Adam learning rate on the support set.
        adapt_steps: full-batch Adam steps on the support set.
        finetune_trunk: fine-tune the hidden layer too, not only the new output layer.
        seed: seeds initialisations.
    """

    def __init__(
        self,
        *,
        hidden: int = 64,
        learning_rate: float = 1e-2,
        epochs: int = 200,
        weight_decay: float = 1e-4,
        adapt_lr: float = 1e-2,
        adapt_steps: int = 100,
        finetune_trunk: bool = True,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.adapt_lr = adapt_lr
        self.adapt_steps = adapt_steps
        self.finetune_trunk = finetune_trunk
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Pre-train on the pooled sources (``groups`` unused); sets ``network_``, ``classes_``."""
        self.classes_, encoded = encode_labels(labels)
        inputs, targets = as_tensors(features, encoded)
        weights = balanced_class_weights(targets)
        with torch_seed(self.seed):
            self.network_ = mlp(inputs.shape[1], self.hidden, len(self.classes_))
            fit_full_batch(
                lambda: functional.cross_entropy(self.network_(inputs), targets, weight=weights),
                self.network_.parameters(),
                steps=self.epochs,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                modules=[self.network_],
            )
        return self

    def _trunk(self, inputs: int) -> torch.nn.Module:
        return copy.deepcopy(self.network_[:-1])


class MultitaskBaseline(_SupportFineTuning):
    """A shared hidden layer with one output head per source group, trained jointly.

    The loss is the mean over groups of each group's class-balanced cross-entropy on its own
    classes, so every source task counts equally whatever its size. Adaptation adds a new head
    (and fine-tunes the trunk if ``finetune_trunk``).

    Args:
        hidden: hidden units.
        learning_rate: AdamW learning rate of joint training.
        epochs: full-batch joint training steps.
        weight_decay: AdamW weight decay.
        adapt_lr: Adam learning rate on the support set.
        adapt_steps: full-batch Adam steps on the support set.
        finetune_trunk: fine-tune the shared layer too, not only the new head.
        seed: seeds initialisations.
    """

    def __init__(
        self,
        *,
        hidden: int = 64,
        learning_rate: float = 1e-2,
        epochs: int = 200,
        weight_decay: float = 1e-4,
        adapt_lr: float = 1e-2,
        adapt_steps: int = 100,
        finetune_trunk: bool = False,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.adapt_lr = adapt_lr
        self.adapt_steps = adapt_steps
        self.finetune_trunk = finetune_trunk
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Train trunk and per-group heads; sets ``trunk_``, ``heads_`` and ``groups_``."""
        groups = np.asarray(groups)
        labels = np.asarray(labels)
        self.groups_ = np.unique(groups)
        tasks = []
        for group in self.groups_:
            rows = groups == group
            _, encoded = encode_labels(labels[rows])
            tasks.append(as_tensors(np.asarray(features)[rows], encoded))
        weights = [balanced_class_weights(targets) for _, targets in tasks]

        def loss() -> torch.Tensor:
            losses = [
                functional.cross_entropy(head(self.trunk_(inputs)), targets, weight=weight)
                for head, (inputs, targets), weight in zip(self.heads_, tasks, weights, strict=True)
            ]
            return torch.stack(losses).mean()

        with torch_seed(self.seed):
            self.trunk_ = torch.nn.Sequential(
                torch.nn.Linear(np.shape(features)[1], self.hidden), torch.nn.ReLU()
            )
            self.heads_ = torch.nn.ModuleList(
                torch.nn.Linear(self.hidden, int(targets.max()) + 1) for _, targets in tasks
            )
            fit_full_batch(
                loss,
                [*self.trunk_.parameters(), *self.heads_.parameters()],
                steps=self.epochs,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                modules=[self.trunk_, self.heads_],
            )
        return self

    def _trunk(self, inputs: int) -> torch.nn.Module:
        return copy.deepcopy(self.trunk_)
