"""Multitask head: emotion categories + dimensional regression (CCC loss) + auxiliary tasks.

One shared trunk on pooled features feeds an emotion classifier, one linear regressor per
dimension (arousal, valence, dominance; trained with the concordance loss) and one classifier
per auxiliary task (gender, language or corpus, speaker). Corpora that lack a label are
masked out of that task's loss (NaN for dimensions, -1 for auxiliary classes). Task weights
are fixed, or learned as homoscedastic uncertainties (Kendall et al. 2018):
``sum_i exp(-s_i) L_i + s_i``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = rng.normal(size=(60, 5)); labels = (features[:, 0] > 0).astype(int)
    >>> head = MultitaskHead(epochs=50, hidden=16).fit(
    ...     features, labels, targets={"arousal": features[:, 1]})
    >>> head.predict_dimensions(features)["arousal"].shape
    (60,)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.models.heads import Head
from emotransfer.models.losses import ccc_loss, masked_cross_entropy
from emotransfer.seeding import torch_seed


class MultitaskHead(Head):
    """Shared MLP trunk with emotion, dimension and auxiliary heads, trained full-batch.

    Args:
        hidden: trunk width.
        dropout: trunk dropout.
        weights: fixed loss weights by task name (``"emotion"``, a dimension, an auxiliary
            task); missing names weigh 1.0. Ignored when ``uncertainty`` is true.
        uncertainty: learn the task weights as log-variances instead.
        learning_rate, weight_decay, epochs: AdamW settings and full-batch steps.
        seed: seeds initialisation and dropout (the caller's torch generator is left alone).
    """

    default_grid: ClassVar[dict[str, list[Any]]] = {}

    def __init__(
        self,
        *,
        hidden: int = 256,
        dropout: float = 0.2,
        weights: dict[str, float] | None = None,
        uncertainty: bool = False,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-2,
        epochs: int = 300,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.weights = weights
        self.uncertainty = uncertainty
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.seed = seed

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        *,
        targets: dict[str, np.ndarray] | None = None,
        auxiliary: dict[str, np.ndarray] | None = None,
    ) -> MultitaskHead:
        """Train on ``(N, D)`` features; ``(N,)`` ``labels`` may hold -1 for rows without an
        emotion label. Sets ``trunk_``, ``heads_``, ``history_`` (per step, each task's loss)
        and ``task_weights_``.

        Args:
            targets: dimension name -> ``(N,)`` floats (NaN = unknown).
            auxiliary: task name -> ``(N,)`` ints (-1 = unknown).
        """
        with torch_seed(self.seed):
            self._fit(features, labels, dict(targets or {}), dict(auxiliary or {}))
        return self

    def _fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        targets: dict[str, np.ndarray],
        auxiliary: dict[str, np.ndarray],
    ) -> None:
        inputs = torch.as_tensor(features, dtype=torch.float32)
        emotion = torch.as_tensor(labels, dtype=torch.long)
        self.dimensions_ = list(targets)
        self.auxiliary_ = {name: int(np.max(values)) + 1 for name, values in auxiliary.items()}
        classes = int(emotion.max()) + 1
        self.trunk_ = torch.nn.Sequential(
            torch.nn.Linear(inputs.shape[1], self.hidden), torch.nn.ReLU(),
            torch.nn.Dropout(self.dropout),
        )  # fmt: skip
        self.heads_ = torch.nn.ModuleDict({"emotion": torch.nn.Linear(self.hidden, classes)})
        for name in self.dimensions_:
            self.heads_[f"dim_{name}"] = torch.nn.Linear(self.hidden, 1)
        for name, count in self.auxiliary_.items():
            self.heads_[f"aux_{name}"] = torch.nn.Linear(self.hidden, count)
        tasks = ["emotion", *self.dimensions_, *self.auxiliary_]
        self.log_variances_ = torch.nn.Parameter(torch.zeros(len(tasks)))
        parameters = [*self.trunk_.parameters(), *self.heads_.parameters()]
        if self.uncertainty:
            parameters.append(self.log_variances_)
        truth = {name: torch.as_tensor(v, dtype=torch.float32) for name, v in targets.items()}
        aux = {name: torch.as_tensor(v, dtype=torch.long) for name, v in auxiliary.items()}
        fixed = self.weights or {}
        self.history_: list[dict[str, float]] = []

        def loss() -> torch.Tensor:
            shared = self.trunk_(inputs)
            losses = [masked_cross_entropy(self.heads_["emotion"](shared), emotion)]
            losses += [ccc_loss(self.heads_[f"dim_{n}"](shared)[:, 0], truth[n])
                       for n in self.dimensions_]  # fmt: skip
            losses += [masked_cross_entropy(self.heads_[f"aux_{n}"](shared), aux[n])
                       for n in self.auxiliary_]  # fmt: skip
            self.history_.append({t: float(value.detach()) for t, value in zip(tasks, losses)})
            if self.uncertainty:
                return sum(torch.exp(-s) * value + s
                           for s, value in zip(self.log_variances_, losses))  # fmt: skip
            return sum(fixed.get(task, 1.0) * value for task, value in zip(tasks, losses))

        fit_full_batch(loss, parameters, steps=self.epochs, learning_rate=self.learning_rate,
                       weight_decay=self.weight_decay, modules=[self.trunk_])  # fmt: skip
        self.task_weights_ = dict(zip(tasks, torch.exp(-self.log_variances_.detach()).tolist()))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            shared = self.trunk_(torch.as_tensor(features, dtype=torch.float32))
            return torch.softmax(self.heads_["emotion"](shared), dim=-1).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.predict_proba(features).argmax(axis=1)

    def predict_dimensions(self, features: np.ndarray) -> dict[str, np.ndarray]:
        with torch.no_grad():
            shared = self.trunk_(torch.as_tensor(features, dtype=torch.float32))
            return {n: self.heads_[f"dim_{n}"](shared)[:, 0].numpy() for n in self.dimensions_}
