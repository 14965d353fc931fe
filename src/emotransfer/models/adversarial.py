"""Domain-adversarial training on pooled features: gradient reversal and the shared loop.

:class:`DomainAdversarialHead` trains an encoder whose code feeds an emotion classifier
(labelled source rows) and, behind a gradient reversal layer (:class:`GradientReversal`), a
domain classifier (all rows, unlabelled target included), so the encoder learns a code from
which the domains cannot be told apart. Subclasses choose the encoder:
:class:`~emotransfer.models.dann.DANNHead` (an MLP) and
:class:`~emotransfer.models.da_autoencoder.DAAutoencoderHead` (attention fusion + decoder).

Shapes: ``features`` is ``(N, D)`` float, ``labels`` is ``(N,)`` int in ``[0, C)``,
``domains`` is ``(N,)`` int, ``target_features`` is ``(M, D)`` float without labels.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch

from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.models.heads import Head
from emotransfer.models.losses import balanced_class_weights
from emotransfer.seeding import torch_seed


class GradientReversal(torch.autograd.Function):
    """Identity in the forward pass; multiplies the gradient by ``-weight`` going back.

    Example:
        >>> inputs = torch.ones(2, requires_grad=True)
        >>> GradientReversal.apply(inputs, 0.5).sum().backward()
        >>> inputs.grad.tolist()
        [-0.5, -0.5]
    """

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


def adversarial_schedule(progress: float) -> float:
    """Ganin & Lempitsky's ramp ``2 / (1 + exp(-10 p)) - 1`` from 0 (start) towards 1 (end).

    The domain classifier is noisy early on; ramping the reversal keeps it from disturbing the
    encoder before the emotion classifier has found a useful code.

    Example:
        >>> adversarial_schedule(0.0), round(adversarial_schedule(1.0), 4)
        (0.0, 0.9999)
    """
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def domain_ids(labelled_count: int, domains: np.ndarray | None, target_count: int) -> np.ndarray:
    """Domain id per row of ``[labelled rows; target rows]``.

    Labelled rows take ``domains`` (or 0); target rows take the next free id.

    Example:
        >>> domain_ids(2, None, 1).tolist(), domain_ids(3, np.array([0, 2, 2]), 2).tolist()
        ([0, 0, 1], [0, 2, 2, 3, 3])
    """
    if domains is None:
        source = np.zeros(labelled_count, dtype=np.int64)
    else:
        source = np.asarray(domains, dtype=np.int64)
        if source.shape != (labelled_count,) or (labelled_count and source.min() < 0):
            raise ValueError(f"domains must be {labelled_count} non-negative ints")
    target_id = int(source.max()) + 1 if labelled_count else 0
    return np.r_[source, np.full(target_count, target_id, dtype=np.int64)]


def balanced_batches(
    groups: list[np.ndarray], steps: int, per_group: int, rng: np.random.Generator
) -> np.ndarray:
    """``(steps, per_group * len(groups))`` row indices; each batch takes ``per_group`` of each.

    Each group is walked through fresh permutations, so every row is seen before any repeats.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> batches = balanced_batches([np.arange(4), np.arange(10, 12)], 2, 2, rng)
        >>> batches.shape, sorted(batches[:, :2].ravel().tolist())
        ((2, 4), [0, 1, 2, 3])
    """
    columns = []
    for members in groups:
        repeats = -(-steps * per_group // len(members))
        order = np.concatenate([rng.permutation(members) for _ in range(repeats)])
        columns.append(order[: steps * per_group].reshape(steps, per_group))
    return np.concatenate(columns, axis=1)


class AdversarialNetwork(torch.nn.Module):
    """Encoder -> code; code -> emotion logits, reversed code -> domain logits, code -> input."""

    def __init__(
        self,
        encoder: torch.nn.Module,
        classifier: torch.nn.Module,
        decoder: torch.nn.Module | None,
        domain_classifier: torch.nn.Module | None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.classifier = classifier
        self.decoder = decoder
        self.domain_classifier = domain_classifier

    def forward(
        self, inputs: torch.Tensor, reversal_weight: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Emotion logits ``(B, C)``, domain logits ``(B, K)`` and reconstruction ``(B, D)``."""
        code = self.encoder(inputs)
        domain_logits = None
        if self.domain_classifier is not None:
            domain_logits = self.domain_classifier(GradientReversal.apply(code, reversal_weight))
        reconstruction = self.decoder(code) if self.decoder is not None else None
        return self.classifier(code), domain_logits, reconstruction


class DomainAdversarialHead(Head):
    """Training loop shared by the domain-adversarial heads; subclasses provide the encoder.

    Hooks: ``_encoder(dimension) -> (module, code_size)``, ``_decoder(code_size, dimension)``
    (``None``: no reconstruction) and ``_reconstruction_weight()``.

    One epoch is ``ceil(rows / batch_size)`` Adam steps. With two or more domains each batch
    holds the same number of rows of every domain (source corpora and the target), the
    emotion loss (class-weighted cross-entropy) uses its labelled rows and the domain loss all
    of them; the reversal weight is ``adversarial_weight * adversarial_schedule(step / steps)``.
    With a single domain the adversarial branch is off and batches hold labelled rows only.
    The steps run in :func:`~emotransfer.models.fullbatch.fit_full_batch` (one minibatch
    per call of the loss); ``seed`` seeds torch inside the fit only, and the numpy sampler.
    """

    def __init__(
        self,
        *,
        hidden: int = 256,
        dropout: float = 0.2,
        adversarial_weight: float = 1.0,
        learning_rate: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.adversarial_weight = adversarial_weight
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def _encoder(self, dimension: int) -> tuple[torch.nn.Module, int]:
        raise NotImplementedError

    def _decoder(self, code_size: int, dimension: int) -> torch.nn.Module | None:
        return None

    def _reconstruction_weight(self) -> float:
        return 0.0

    def fit(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        *,
        domains: np.ndarray | None = None,
        target_features: np.ndarray | None = None,
    ) -> DomainAdversarialHead:
        """Train on labelled ``features`` and, when given, unlabelled ``target_features``.

        Args:
            features: ``(N, D)`` labelled source rows.
            labels: ``(N,)`` emotion classes in ``[0, C)``.
            domains: ``(N,)`` domain (corpus) id of each labelled row; default all 0.
            target_features: ``(M, D)`` unlabelled rows; they form one more domain.

        Returns:
            ``self`` with ``module_``, ``classes_``, ``domains_`` and ``history_`` (lists per
            epoch: ``emotion_loss``, with two or more domains ``domain_loss`` and
            ``domain_accuracy``, with a decoder ``reconstruction_loss``).
        """
        with torch_seed(self.seed):
            rng = np.random.default_rng(self.seed)
            source = np.asarray(features, dtype=np.float32)
            target = np.zeros((0, source.shape[1]), np.float32)
            if target_features is not None:
                target = np.asarray(target_features, dtype=np.float32)
            row_domains = domain_ids(len(source), domains, len(target))
            targets = np.r_[np.asarray(labels, dtype=np.int64), np.full(len(target), -1)]
            inputs = torch.as_tensor(np.concatenate([source, target]))
            self.classes_ = np.arange(int(targets.max()) + 1)
            self.domains_ = np.unique(row_domains)
            self.module_ = self._build(inputs.shape[1], len(self.classes_), row_domains)
            self.history_: dict[str, list[float]] = {}
            self._train(inputs, torch.as_tensor(targets), torch.as_tensor(row_domains), rng)
        return self

    def _build(self, dimension: int, classes: int, row_domains: np.ndarray) -> AdversarialNetwork:
        # Domain classifier last: the other parts start the same with or without a target.
        encoder, code_size = self._encoder(dimension)
        classifier = torch.nn.Linear(code_size, classes)
        decoder = self._decoder(code_size, dimension)
        domain_classifier = None
        if len(self.domains_) > 1:
            domain_classifier = torch.nn.Sequential(
                torch.nn.Linear(code_size, self.hidden),
                torch.nn.ReLU(),
                torch.nn.Linear(self.hidden, int(row_domains.max()) + 1),
            )
        return AdversarialNetwork(encoder, classifier, decoder, domain_classifier)

    def _batches(self, row_domains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        steps = max(1, -(-len(row_domains) // self.batch_size))
        if len(self.domains_) == 1:
            return balanced_batches([np.arange(len(row_domains))], steps, self.batch_size, rng)
        groups = [np.flatnonzero(row_domains == domain) for domain in self.domains_]
        per_group = max(1, self.batch_size // len(groups))
        return balanced_batches(groups, steps, per_group, rng)

    def _train(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        row_domains: torch.Tensor,
        rng: np.random.Generator,
    ) -> None:
        """Adam on one balanced minibatch per step (drawn per epoch); ``history_`` holds the
        epoch means of the step values."""
        labelled = targets[targets >= 0]
        emotion_loss = torch.nn.CrossEntropyLoss(
            weight=balanced_class_weights(labelled, len(self.classes_)), ignore_index=-1
        )
        # rng feeds nothing else: drawing every epoch's batches first gives the same batches
        epochs = [self._batches(row_domains.numpy(), rng) for _ in range(self.epochs)]
        per_epoch = max(1, -(-len(inputs) // self.batch_size))
        total_steps = self.epochs * per_epoch
        batches = itertools.chain.from_iterable(epochs)
        records: list[dict[str, float]] = []

        def loss() -> torch.Tensor:
            weight = self.adversarial_weight * adversarial_schedule(len(records) / total_steps)
            batch = next(batches)
            value, values = self._loss(
                inputs[batch], targets[batch], row_domains[batch], weight, emotion_loss
            )
            records.append(values)
            return value

        fit_full_batch(
            loss,
            self.module_.parameters(),
            steps=total_steps,
            learning_rate=self.learning_rate,
            optimizer="adam",
            modules=[self.module_],
        )
        for epoch in range(self.epochs):
            sums: dict[str, float] = {}
            for values in records[epoch * per_epoch : (epoch + 1) * per_epoch]:
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value
            for name, value in sums.items():
                self.history_.setdefault(name, []).append(value / per_epoch)

    def _loss(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        row_domains: torch.Tensor,
        reversal_weight: float,
        emotion_loss: torch.nn.Module,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one ``(B, D)`` batch and its parts as floats."""
        logits, domain_logits, reconstruction = self.module_(inputs, reversal_weight)
        loss = emotion_loss(logits, targets)
        values = {"emotion_loss": loss.item()}
        if domain_logits is not None:
            domain_loss = torch.nn.functional.cross_entropy(domain_logits, row_domains)
            loss = loss + domain_loss
            values["domain_loss"] = domain_loss.item()
            accuracy = (domain_logits.argmax(dim=1) == row_domains).float().mean()
            values["domain_accuracy"] = accuracy.item()
        if reconstruction is not None:
            reconstruction_loss = torch.nn.functional.mse_loss(reconstruction, inputs)
            loss = loss + self._reconstruction_weight() * reconstruction_loss
            values["reconstruction_loss"] = reconstruction_loss.item()
        return loss, values

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)``."""
        with torch.no_grad():
            logits, _, _ = self.module_(torch.as_tensor(features, dtype=torch.float32))
            return torch.softmax(logits, dim=-1).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Classes ``(N,)``."""
        return self.predict_proba(features).argmax(axis=1)
