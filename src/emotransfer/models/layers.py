"""Combining hidden states: a softmax-weighted sum of layers (SUPERB / transformers style).

Example:
    >>> import torch
    >>> layer_sum = WeightedLayerSum(num_layers=3)
    >>> layer_sum(torch.ones(2, 3, 4)).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.models.heads import Head
from emotransfer.models.losses import balanced_class_weights
from emotransfer.seeding import torch_seed


class WeightedLayerSum(torch.nn.Module):
    """``(B, L + 1, ...) -> (B, ...)``: hidden states mixed with learned softmax weights."""

    def __init__(self, *, num_layers: int) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(num_layers))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.logits, dim=0)
        shape = (1, -1) + (1,) * (hidden_states.dim() - 2)
        return (hidden_states * weights.view(shape)).sum(dim=1)

    def weights(self) -> np.ndarray:
        return torch.softmax(self.logits.detach(), dim=0).numpy()


class LayerSumHead(Head):
    """Weighted layer sum + linear classifier, trained full-batch on pooled hidden states.

    Inputs are ``(N, L + 1, D)`` pooled features (each layer standardised by the caller).
    After ``fit``, ``layer_weights_`` says how much each hidden state contributes.

    Args:
        weight_decay: AdamW weight decay of the linear layer.
        learning_rate: AdamW learning rate.
        epochs: full-batch steps.
        seed: seeds the initialisation (the caller's torch generator is left alone).
    """

    default_grid: ClassVar[dict[str, list[Any]]] = {"weight_decay": [1e-3, 1e-1]}
    mixes_layers: ClassVar[bool] = True

    def __init__(
        self,
        *,
        weight_decay: float = 1e-2,
        learning_rate: float = 1e-2,
        epochs: int = 120,
        seed: int = 0,
    ) -> None:
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.seed = seed

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LayerSumHead:
        """Train on ``(N, L + 1, D)`` features and ``(N,)`` classes in ``[0, C)``."""
        with torch_seed(self.seed):
            inputs = torch.as_tensor(features, dtype=torch.float32)
            targets = torch.as_tensor(labels, dtype=torch.long)
            classes = int(targets.max()) + 1
            self.layer_sum_ = WeightedLayerSum(num_layers=inputs.shape[1])
            self.linear_ = torch.nn.Linear(inputs.shape[2], classes)
            loss = torch.nn.CrossEntropyLoss(weight=balanced_class_weights(targets, classes))
            fit_full_batch(
                lambda: loss(self.linear_(self.layer_sum_(inputs)), targets),
                [
                    {"params": self.layer_sum_.parameters(), "weight_decay": 0.0},
                    {"params": self.linear_.parameters(), "weight_decay": self.weight_decay},
                ],
                steps=self.epochs,
                learning_rate=self.learning_rate,
                modules=[self.layer_sum_, self.linear_],
            )
        self.layer_weights_ = self.layer_sum_.weights()
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)`` of ``(N, L + 1, D)`` features."""
        with torch.no_grad():
            inputs = torch.as_tensor(features, dtype=torch.float32)
            return torch.softmax(self.linear_(self.layer_sum_(inputs)), dim=-1).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.predict_proba(features).argmax(axis=1)
