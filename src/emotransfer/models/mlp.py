"""A small torch MLP head trained full-batch with class-weighted cross-entropy.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = np.r_[rng.normal(-2, 1, (20, 3)), rng.normal(2, 1, (20, 3))]
    >>> labels = np.r_[np.zeros(20, int), np.ones(20, int)]
    >>> head = MLPHead(hidden=16, epochs=100).fit(features, labels)
    >>> bool((head.predict(features) == labels).mean() > 0.9)
    True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.models.heads import Head
from emotransfer.models.losses import balanced_class_weights
from emotransfer.seeding import torch_seed


class MLPHead(Head):
    """One hidden layer (ReLU, dropout) trained with AdamW on the whole training set.

    Args:
        hidden: hidden units.
        dropout: dropout before the output layer.
        weight_decay: AdamW weight decay.
        learning_rate: AdamW learning rate.
        epochs: full-batch steps.
        seed: seeds initialisation and dropout (the caller's torch generator is left alone).
    """

    default_grid: ClassVar[dict[str, list[Any]]] = {"weight_decay": [1e-3, 1e-1]}

    def __init__(
        self,
        *,
        hidden: int = 256,
        dropout: float = 0.3,
        weight_decay: float = 1e-2,
        learning_rate: float = 1e-3,
        epochs: int = 300,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.seed = seed

    def fit(self, features: np.ndarray, labels: np.ndarray) -> MLPHead:
        """Train on ``(N, D)`` features and ``(N,)`` classes in ``[0, C)``; sets ``network_``."""
        with torch_seed(self.seed):
            inputs = torch.as_tensor(features, dtype=torch.float32)
            targets = torch.as_tensor(labels, dtype=torch.long)
            classes = int(targets.max()) + 1
            self.network_ = torch.nn.Sequential(
                torch.nn.Linear(inputs.shape[1], self.hidden),
                torch.nn.ReLU(),
                torch.nn.Dropout(self.dropout),
                torch.nn.Linear(self.hidden, classes),
            )
            loss = torch.nn.CrossEntropyLoss(weight=balanced_class_weights(targets, classes))
            fit_full_batch(
                lambda: loss(self.network_(inputs), targets),
                self.network_.parameters(),
                steps=self.epochs,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                modules=[self.network_],
            )
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)``."""
        with torch.no_grad():
            logits = self.network_(torch.as_tensor(features, dtype=torch.float32))
            return torch.softmax(logits, dim=-1).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.predict_proba(features).argmax(axis=1)
