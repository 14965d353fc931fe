"""Domain-adversarial heads for cross-corpus emotion recognition with an unlabelled target.

Both heads share one training loop (:class:`DomainAdversarialHead`) and differ in the
encoder hook: :class:`DANNHead` (Ganin & Lempitsky 2015) uses an MLP feature extractor,
:class:`DAAutoencoderHead` (Gao et al., ICASSP 2021) an attention-fused encoder with a decoder
that reconstructs the input. An emotion classifier reads the code of the labelled (source)
rows; a domain classifier reads the code of *all* rows behind a gradient reversal layer, so
the encoder learns a code from which the domains cannot be told apart.

Shapes: ``features`` is ``(N, D)`` float, ``labels`` is ``(N,)`` int in ``[0, C)``,
``domains`` is ``(N,)`` int, ``target_features`` is ``(M, D)`` float without labels.

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

import math
from typing import Any

import numpy as np
import torch

from emotransfer.models.heads import Head
from emotransfer.models.losses import balanced_class_weights


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


class _Network(torch.nn.Module):
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
        torch.manual_seed(self.seed)
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
        self.module_.eval()
        return self

    def _build(self, dimension: int, classes: int, row_domains: np.ndarray) -> _Network:
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
        return _Network(encoder, classifier, decoder, domain_classifier)

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
        labelled = targets[targets >= 0]
        emotion_loss = torch.nn.CrossEntropyLoss(
            weight=balanced_class_weights(labelled, len(self.classes_)), ignore_index=-1
        )
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.learning_rate)
        self.module_.train()
        total_steps = self.epochs * max(1, -(-len(inputs) // self.batch_size))
        step = 0
        for _ in range(self.epochs):
            sums: dict[str, float] = {}
            batches = self._batches(row_domains.numpy(), rng)
            for batch in batches:
                weight = self.adversarial_weight * adversarial_schedule(step / total_steps)
                values = self._step(
                    inputs[batch],
                    targets[batch],
                    row_domains[batch],
                    weight,
                    emotion_loss,
                    optimizer,
                )
                for name, value in values.items():
                    sums[name] = sums.get(name, 0.0) + value
                step += 1
            for name, value in sums.items():
                self.history_.setdefault(name, []).append(value / len(batches))

    def _step(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        row_domains: torch.Tensor,
        reversal_weight: float,
        emotion_loss: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
    ) -> dict[str, float]:
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
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return values

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)``."""
        with torch.no_grad():
            logits, _, _ = self.module_(torch.as_tensor(features, dtype=torch.float32))
            return torch.softmax(logits, dim=-1).numpy()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Classes ``(N,)``."""
        return self.predict_proba(features).argmax(axis=1)


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
        seed: seeds torch (initialisation, dropout) and the numpy batch sampler.

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


class AttentionFusionEncoder(torch.nn.Module):
    """Parallel linear views of the input fused by multi-head self-attention into one code.

    The input is projected into ``num_views`` learned sub-representations (not split into
    chunks: pooled features have no natural chunks, and learned projections work for any
    ``D``), each ``latent_dim`` wide with its own view embedding. Multi-head self-attention
    over the views as a sequence of length ``num_views`` lets each view draw on the others
    (residual + layer norm); the mean over views, after dropout, is the code
    ``(B, latent_dim)``.

    Example:
        >>> encoder = AttentionFusionEncoder(6, latent_dim=8, num_views=4, heads=2)
        >>> encoder(torch.zeros(5, 6)).shape
        torch.Size([5, 8])
    """

    def __init__(
        self, dimension: int, *, latent_dim: int, num_views: int, heads: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if latent_dim % heads:
            raise ValueError(f"latent_dim {latent_dim} must be divisible by heads {heads}")
        self.num_views, self.latent_dim = num_views, latent_dim
        self.views = torch.nn.Linear(dimension, num_views * latent_dim)
        self.view_embedding = torch.nn.Parameter(torch.zeros(num_views, latent_dim))
        self.attention = torch.nn.MultiheadAttention(latent_dim, heads, batch_first=True)
        self.norm = torch.nn.LayerNorm(latent_dim)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` -> code ``(B, latent_dim)``."""
        views = self.views(inputs).view(-1, self.num_views, self.latent_dim)
        views = torch.relu(views + self.view_embedding)
        fused, _ = self.attention(views, views, views, need_weights=False)
        return self.dropout(self.norm(views + fused).mean(dim=1))


class DAAutoencoderHead(DomainAdversarialHead):
    """Domain-adversarial autoencoder with attention-based fusion (Gao et al., ICASSP 2021).

    Encoder: :class:`AttentionFusionEncoder` (``num_views`` parallel linear views fused by
    ``heads``-head self-attention into a ``latent_dim`` code). A decoder
    ``latent_dim -> hidden -> D`` reconstructs the input; a linear emotion classifier reads
    the code of labelled rows; a domain classifier reads the reversed code of all rows. Loss =
    class-weighted CE + ``reconstruction_weight`` * MSE (all rows, source and target) + the
    domain CE behind ramped gradient reversal. See :class:`DomainAdversarialHead` for ``fit``.

    Args:
        latent_dim: code width (a multiple of ``heads``).
        num_views: parallel projections attended over.
        heads: attention heads.
        hidden: units of the decoder and domain classifier hidden layers.
        dropout: dropout on the code.
        reconstruction_weight: weight of the reconstruction MSE.
        adversarial_weight: scale of the ramped gradient reversal.
        learning_rate: Adam learning rate.
        epochs: passes; one pass is ``ceil(rows / batch_size)`` steps.
        batch_size: rows per step (split evenly over domains when adversarial).
        seed: seeds torch and the numpy batch sampler.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> features, labels = rng.normal(size=(30, 6)), np.arange(30) % 3
        >>> head = DAAutoencoderHead(latent_dim=8, heads=2, hidden=8, epochs=2)
        >>> head = head.fit(features, labels, target_features=rng.normal(size=(10, 6)))
        >>> head.predict(features).shape, len(head.history_["reconstruction_loss"])
        ((30,), 2)
    """

    def __init__(
        self,
        *,
        latent_dim: int = 128,
        num_views: int = 4,
        heads: int = 4,
        hidden: int = 256,
        dropout: float = 0.2,
        reconstruction_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        learning_rate: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__(
            hidden=hidden,
            dropout=dropout,
            adversarial_weight=adversarial_weight,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
        )
        self.latent_dim = latent_dim
        self.num_views = num_views
        self.heads = heads
        self.reconstruction_weight = reconstruction_weight

    def _encoder(self, dimension: int) -> tuple[torch.nn.Module, int]:
        fusion = AttentionFusionEncoder(
            dimension,
            latent_dim=self.latent_dim,
            num_views=self.num_views,
            heads=self.heads,
            dropout=self.dropout,
        )
        return fusion, self.latent_dim

    def _decoder(self, code_size: int, dimension: int) -> torch.nn.Module | None:
        return torch.nn.Sequential(
            torch.nn.Linear(code_size, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, dimension),
        )

    def _reconstruction_weight(self) -> float:
        return self.reconstruction_weight
