"""Feature-based transfer baselines: a shared autoencoder subspace and instance reweighting.

Both use unlabelled target features to correct a source-trained classifier (the
"feature-representation" and "instance" transfer families of Pan & Yang's survey):

* :class:`SharedSubspace` learns one encoder for source and target by reconstructing both
  (each domain weighted equally, as in the shared-hidden-layer autoencoder of Deng et al.),
  optionally pulling the two domains' latent means together; a classifier is then trained on
  encoded source features and applied to encoded target features.
* :class:`InstanceReweighting` estimates the density ratio ``p_target(x) / p_source(x)`` with
  a source-vs-target logistic regression; the weights become ``sample_weight`` of a source
  classifier (:func:`reweighted_logistic_regression`).

Shapes: ``source`` ``(N_s, D)``, ``target`` ``(N_t, D)`` float; inputs standardised by the
caller.

Example:
    >>> rng = np.random.default_rng(0)
    >>> source, target = rng.normal(0, 1, (50, 4)), rng.normal(1, 1, (40, 4))
    >>> SharedSubspace(latent_dim=2, epochs=20).fit(source, target).transform(target).shape
    (40, 2)
    >>> weights = InstanceReweighting().weights(source, target)
    >>> weights.shape, round(float(weights.mean()), 6)
    ((50,), 1.0)
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.seeding import torch_seed


class SharedSubspace(BaseEstimator):
    """An autoencoder trained on source and target features to give a shared latent space.

    Encoder ``z = act(W x + b)``; decoder ``x' = W^T z + c`` when ``tied``, else a separate
    linear layer. Loss: mean squared reconstruction error of the source rows plus that of the
    target rows (each domain counts equally whatever its size), plus ``discrepancy_weight``
    times the Mahalanobis distance between the source and target latent means (a
    scale-free linear-kernel MMD that steers the subspace away from directions in which the
    domains differ; 0 gives the plain shared autoencoder, which keeps any high-variance shift).
    Full-batch Adam (:func:`~emotransfer.models.fullbatch.fit_full_batch`).

    Args:
        latent_dim: size of the shared subspace.
        tied: decoder weights are the transposed encoder weights.
        activation: ``"linear"``, ``"tanh"`` or ``"relu"`` after the encoder.
        discrepancy_weight: weight of the latent mean discrepancy (0: plain autoencoder).
        learning_rate: Adam learning rate.
        epochs: full-batch steps.
        weight_decay: Adam weight decay.
        seed: seeds the initialisation.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> rng = np.random.default_rng(0)
        >>> labels = np.arange(60) % 2
        >>> source = rng.normal(0, 1, (60, 5)) + 3.0 * labels[:, None] * np.eye(5)[0]
        >>> target = rng.normal(0, 1, (30, 5)) + 1.0
        >>> subspace = SharedSubspace(latent_dim=3, epochs=50).fit(source, target)
        >>> classifier = LogisticRegression().fit(subspace.transform(source), labels)
        >>> classifier.predict(subspace.transform(target)).shape
        (30,)
    """

    activations: ClassVar[dict[str, type[torch.nn.Module]]] = {
        "linear": torch.nn.Identity,
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
    }

    def __init__(
        self,
        *,
        latent_dim: int = 32,
        tied: bool = True,
        activation: str = "linear",
        discrepancy_weight: float = 10.0,
        learning_rate: float = 1e-2,
        epochs: int = 300,
        weight_decay: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.latent_dim = latent_dim
        self.tied = tied
        self.activation = activation
        self.discrepancy_weight = discrepancy_weight
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.seed = seed

    def fit(self, source: np.ndarray, target: np.ndarray) -> Self:
        """Train on both domains (no labels); sets ``encoder_``, ``decoder_``, ``losses_``."""
        if self.activation not in self.activations:
            raise ValueError(
                f"SharedSubspace activation {self.activation!r}; known: {sorted(self.activations)}"
            )
        source_inputs = torch.as_tensor(np.asarray(source), dtype=torch.float32)
        target_inputs = torch.as_tensor(np.asarray(target), dtype=torch.float32)
        dims = source_inputs.shape[1]
        with torch_seed(self.seed):
            self.encoder_ = torch.nn.Sequential(
                torch.nn.Linear(dims, self.latent_dim), self.activations[self.activation]()
            )
            self.decoder_ = _TiedDecoder(self.encoder_[0], dims) if self.tied else None
            if self.decoder_ is None:
                self.decoder_ = torch.nn.Linear(self.latent_dim, dims)
            # a tied decoder shares the encoder's weight: list it once
            parameters = dict.fromkeys([*self.encoder_.parameters(), *self.decoder_.parameters()])
            self.losses_ = fit_full_batch(
                lambda: self._loss(source_inputs, target_inputs),
                list(parameters),
                steps=self.epochs,
                learning_rate=self.learning_rate,
                weight_decay=self.weight_decay,
                optimizer="adam",
                modules=[self.encoder_, self.decoder_],
            )
        return self

    def _loss(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        source_latent, target_latent = self.encoder_(source), self.encoder_(target)
        reconstruction = torch.nn.functional.mse_loss(
            self.decoder_(source_latent), source
        ) + torch.nn.functional.mse_loss(self.decoder_(target_latent), target)
        return reconstruction + self.discrepancy_weight * _mean_discrepancy(
            source_latent, target_latent
        )

    def transform(self, features: np.ndarray) -> np.ndarray:
        """``(N, D)`` -> ``(N, latent_dim)``."""
        with torch.no_grad():
            return self.encoder_(torch.as_tensor(np.asarray(features), dtype=torch.float32)).numpy()


def _mean_discrepancy(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mahalanobis distance between the domain means under the pooled within-domain covariance.

    Affine-invariant: an untied encoder cannot shrink it by scaling the latent space (and let
    the decoder scale back), nor hide the shift behind a high-variance direction.
    """
    difference = source.mean(0) - target.mean(0)
    centred = torch.cat([source - source.mean(0), target - target.mean(0)])
    covariance = centred.T @ centred / len(centred)
    covariance = covariance + 1e-3 * torch.eye(len(difference))
    return difference @ torch.linalg.solve(covariance, difference)


class _TiedDecoder(torch.nn.Module):
    """``x' = W^T z + c`` sharing ``W`` with the encoder layer."""

    def __init__(self, encoder: torch.nn.Linear, dims: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.bias = torch.nn.Parameter(torch.zeros(dims))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return latent @ self.encoder.weight + self.bias


class InstanceReweighting(BaseEstimator):
    """Importance weights for source rows from a source-vs-target logistic regression.

    With ``d(x) = p(target | x)`` from the domain classifier,
    ``w(x) = d(x) / (1 - d(x)) * n_s / n_t`` estimates ``p_target(x) / p_source(x)`` (the factor
    undoes the domain classifier's prior). Weights are clipped to ``clip`` so that a few rows
    cannot dominate, then divided by their mean (mean 1 keeps the downstream regularisation
    comparable to the unweighted fit).

    Args:
        C: inverse regularisation of the domain classifier.
        clip: lower and upper bound of the raw weights.
        max_iter: lbfgs iterations of the domain classifier.

    Example:
        >>> source = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> target = np.array([[2.5], [3.0], [3.5]])
        >>> weights = InstanceReweighting().weights(source, target)
        >>> bool(weights[3] > weights[0])
        True
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        clip: tuple[float, float] = (0.1, 10.0),
        max_iter: int = 1000,  # noqa: N803
    ) -> None:
        self.C = C
        self.clip = clip
        self.max_iter = max_iter

    def weights(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``(N_s,)`` weights of the source rows; sets ``domain_classifier_`` and ``weights_``."""
        source, target = np.asarray(source), np.asarray(target)
        domains = np.r_[np.zeros(len(source), int), np.ones(len(target), int)]
        self.domain_classifier_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(
            np.concatenate([source, target]), domains
        )
        # decision_function is log(d / (1 - d)): exponentiate it rather than divide probabilities
        ratio = np.exp(self.domain_classifier_.decision_function(source))
        raw = np.clip(ratio * len(source) / len(target), *self.clip)
        self.weights_ = raw / raw.mean()
        return self.weights_


def reweighted_logistic_regression(
    source: np.ndarray,
    labels: np.ndarray,
    target: np.ndarray,
    C: float = 1.0,  # noqa: N803 (scikit-learn's name)
    *,
    domain_C: float = 1.0,  # noqa: N803
    max_iter: int = 1000,
) -> LogisticRegression:
    """A logistic regression fitted on source rows weighted towards the target distribution.

    Args:
        source: ``(N_s, D)`` labelled rows.
        labels: ``(N_s,)`` their classes.
        target: ``(N_t, D)`` unlabelled rows of the domain to predict.
        C: inverse regularisation of the returned classifier.
        domain_C: inverse regularisation of the source-vs-target classifier.
        max_iter: lbfgs iterations of both.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> source = rng.normal(0, 2, (80, 2))
        >>> labels = (source[:, 0] > 0).astype(int)
        >>> model = reweighted_logistic_regression(source, labels, rng.normal(1, 1, (30, 2)))
        >>> model.predict([[3.0, 0.0], [-3.0, 0.0]]).tolist()
        [1, 0]
    """
    weights = InstanceReweighting(C=domain_C, max_iter=max_iter).weights(source, target)
    return LogisticRegression(C=C, max_iter=max_iter).fit(source, labels, sample_weight=weights)
