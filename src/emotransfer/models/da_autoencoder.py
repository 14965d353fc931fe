"""Domain-adversarial autoencoder head with attention-based fusion (Gao et al., ICASSP 2021).

Example:
    >>> rng = np.random.default_rng(0)
    >>> features, labels = rng.normal(size=(30, 6)), np.arange(30) % 3
    >>> head = DAAutoencoderHead(latent_dim=8, heads=2, hidden=8, epochs=2)
    >>> head = head.fit(features, labels, target_features=rng.normal(size=(10, 6)))
    >>> sorted(head.history_)
    ['domain_accuracy', 'domain_loss', 'emotion_loss', 'reconstruction_loss']
"""

from __future__ import annotations

import numpy as np  # noqa: F401 (doctests)
import torch

from emotransfer.models.adversarial import DomainAdversarialHead


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
        seed: seeds initialisation, dropout and the batch sampler (caller's torch RNG kept).

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
