"""Domain-adversarial neural network (DANN) head for cross-corpus emotion recognition.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = np.r_[rng.normal(-2, 1, (20, 3)), rng.normal(2, 1, (20, 3))]
    >>> labels = np.r_[np.zeros(20, int), np.ones(20, int)]
    >>> target = features + np.array([0.0, 0.0, 3.0])
    >>> head = DANNHead(hidden=16, epochs=10, batch_size=40, learning_rate=0.01)
    >>> head = head.fit(features, labels, target_features=target)
    >>> bool((head.predict(target) == labels).mean() > 0.8), sorted(head.history_)
    (True, ['domain_accuracy', 'domain_loss', 'emotion_loss'])
"""

from __future__ import annotations

import numpy as np  # noqa: F401 (doctests)
import torch

from emotransfer.models.adversarial import DomainAdversarialHead


class DANNHead(DomainAdversarialHead):
    """Domain-adversarial neural network (Ganin & Lempitsky 2015) on pooled features.

    Feature extractor ``D -> hidden -> hidden`` (ReLU, dropout), a linear emotion classifier
    and a domain classifier ``hidden -> hidden -> K`` behind gradient reversal. Without target
    rows or several domains it is a plain two-layer MLP. See :class:`DomainAdversarialHead`
    for the training loop and ``fit``.

    Args:
        hidden: units of the extractor's two layers and of the domain classifier.
        dropout: dropout after each extractor layer.
        adversarial_weight: scale of the ramped gradient reversal (0: adversarial branch
            trained but without effect on the extractor).
        learning_rate: Adam learning rate.
        epochs: passes; one pass is ``ceil(rows / batch_size)`` steps.
        batch_size: rows per step (split evenly over domains when adversarial).
        seed: seeds initialisation, dropout and the batch sampler (caller's torch RNG kept).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> features = rng.normal(size=(30, 4))
        >>> labels, domains = np.arange(30) % 3, np.arange(30) % 2
        >>> head = DANNHead(hidden=8, epochs=2).fit(features, labels, domains=domains)
        >>> head.predict_proba(features).shape, head.domains_.tolist()
        ((30, 3), [0, 1])
    """

    def _encoder(self, dimension: int) -> tuple[torch.nn.Module, int]:
        encoder = torch.nn.Sequential(
            torch.nn.Linear(dimension, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Dropout(self.dropout),
            torch.nn.Linear(self.hidden, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Dropout(self.dropout),
        )
        return encoder, self.hidden
