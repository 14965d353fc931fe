"""What a few-shot learner is: ``meta_fit`` on sources, ``adapt`` to a target's support set.

The learners (:mod:`emotransfer.models.maml`, :mod:`emotransfer.models.fewshot_baselines`)
share this contract and the small helpers below; :func:`~emotransfer.models.fewshot_evaluation.
few_shot_evaluation` needs nothing else.

Shapes: ``features`` ``(N, D)`` float, ``labels`` ``(N,)`` int, ``groups`` ``(N,)`` any
hashable ids (source task of each row).

Example:
    >>> classes, encoded = encode_labels(np.array([7, 3, 7]))
    >>> classes.tolist(), encoded.tolist()
    ([3, 7], [1, 0, 1])
    >>> network = torch.nn.Linear(2, 2)
    >>> AdaptedClassifier(network, classes).predict(np.zeros((1, 2))).shape
    (1,)
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class AdaptedClassifier:
    """A network fine-tuned on a target's support set; predicts the target's own class ids.

    Args:
        network: maps ``(N, D)`` float32 to ``(N, C)`` logits.
        classes: ``(C,)`` class id of each output unit.
    """

    def __init__(self, network: torch.nn.Module, classes: np.ndarray) -> None:
        self.network = network.eval()
        self.classes = np.asarray(classes)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``(N, C)`` probabilities, columns in the order of ``classes``."""
        with torch.no_grad():
            logits = self.network(torch.as_tensor(np.asarray(features), dtype=torch.float32))
            return torch.softmax(logits, dim=-1).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` class ids."""
        return self.classes[self.predict_proba(features).argmax(axis=1)]


class FewShotLearner(Protocol):
    """What :func:`few_shot_evaluation` needs: meta-training on sources, adaptation to a target."""

    def meta_fit(
        self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray
    ) -> FewShotLearner: ...

    def adapt(
        self, support_features: np.ndarray, support_labels: np.ndarray, steps: int | None = None
    ) -> AdaptedClassifier: ...


def mlp(inputs: int, hidden: int, outputs: int) -> torch.nn.Sequential:
    """``Linear(inputs, hidden) -> ReLU -> Linear(hidden, outputs)``, initialised from torch's
    global generator (seed it with :func:`~emotransfer.seeding.torch_seed`)."""
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, outputs)
    )


def as_tensors(features: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, D)`` float32 and ``(N,)`` int64 tensors."""
    return (
        torch.as_tensor(np.asarray(features), dtype=torch.float32),
        torch.as_tensor(np.asarray(labels), dtype=torch.long),
    )


def encode_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class ids present (sorted) and each label's index among them."""
    classes = np.unique(labels)
    return classes, np.searchsorted(classes, labels)
