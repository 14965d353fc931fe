"""Model-agnostic meta-learning (Finn et al. 2017) for few-shot emotion recognition.

Several labelled *source* tasks (one per language, corpus or speaker, told apart by
``groups``) give episodes (:func:`~emotransfer.models.episodes.episodes`) on which MAML learns
an initialisation that adapts quickly; a *target* task then gives K labelled clips per class.
:class:`MAMLClassifier` is first or second order; :class:`SharedLabelMAML` and
:class:`SecondOrderMAML` fix one of its flags (the ``maml_shared`` and ``maml_second_order``
few-shot methods).

Shapes: ``features`` ``(N, D)`` float, ``labels`` ``(N,)`` int, ``groups`` ``(N,)`` any
hashable ids (source task of each row).

Example:
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(4), 10)
    >>> features = 3.0 * np.eye(4)[labels] + rng.normal(0, 0.5, (40, 4))
    >>> groups = np.tile([0, 1], 20)
    >>> maml = MAMLClassifier(ways=2, hidden=8, meta_steps=5, shots=2, queries=2)
    >>> support = np.r_[0:3, 10:13]
    >>> maml = maml.meta_fit(features, labels, groups)
    >>> predictor = maml.adapt(features[support], labels[support])
    >>> predictor.predict(features[support]).tolist()
    [0, 0, 0, 1, 1, 1]
"""

from __future__ import annotations

import copy
from typing import Self

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch.func import functional_call
from torch.nn import functional

from emotransfer.models.adapted import AdaptedClassifier, as_tensors, encode_labels, mlp
from emotransfer.models.episodes import Episode, episodes
from emotransfer.models.fullbatch import fit_full_batch
from emotransfer.seeding import torch_seed


def _inner_loop(
    network: torch.nn.Module,
    params: dict[str, torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    learning_rate: float,
    steps: int,
    create_graph: bool,
) -> dict[str, torch.Tensor]:
    """Fast weights after ``steps`` of gradient descent on the support loss.

    With ``create_graph`` the updates stay differentiable with respect to ``params`` (MAML);
    without it each inner gradient is a constant, so the meta-gradient is the query gradient at
    the fast weights (first-order MAML).
    """
    for _ in range(steps):
        loss = functional.cross_entropy(functional_call(network, params, (inputs,)), targets)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {
            name: value - learning_rate * grad
            for (name, value), grad in zip(params.items(), grads, strict=True)
        }
    return params


class MAMLClassifier(BaseEstimator):
    """MAML with a one-hidden-layer MLP (``D -> hidden -> ways``) and SGD fast weights.

    Each outer step samples ``meta_batch`` episodes, adapts a copy of the initialisation with
    ``inner_steps`` SGD steps on the support rows (through ``torch.func.functional_call``) and
    updates the initialisation with Adam on the mean query loss after adaptation. The outer
    loop is :func:`~emotransfer.models.fullbatch.fit_full_batch` (a fresh meta-batch per
    step); the inner loop cannot be: its SGD steps must stay differentiable functions of the
    initialisation (``torch.autograd.grad`` on fast weights, no optimiser state).

    Target classes: :meth:`adapt` keeps the meta-learned output layer when the target has
    ``ways`` classes. Otherwise the output layer is re-sized to the target's class count with
    every row set to the mean of the meta-learned rows: episodes relabel classes at random, so
    the rows are interchangeable and their mean is the learned starting point for any class
    (the "one row for all classes" initialisation of Ye & Chao 2022).

    Args:
        ways: classes per episode.
        hidden: hidden units.
        inner_lr: SGD step of the inner loop and of :meth:`adapt`.
        inner_steps: inner SGD steps during meta-training (and adaptation by default).
        outer_lr: Adam learning rate of the meta-update.
        meta_batch: episodes per outer step.
        meta_steps: outer steps.
        first_order: first-order MAML (no gradient through the inner loop) if True; else full
            second-order MAML (the inner loop is differentiated, ``create_graph=True``).
        shots: support rows per class in an episode.
        queries: query rows per class in an episode.
        relabel: shuffle class ids per episode (classic MAML); False when sources and target
            share the label space, so the meta-learned output layer keeps each emotion's row
            (see :func:`episodes`).
        seed: seeds the initialisation and the episode sampler (the caller's torch generator
            is left alone).
    """

    def __init__(
        self,
        *,
        ways: int = 4,
        hidden: int = 64,
        inner_lr: float = 0.1,
        inner_steps: int = 5,
        outer_lr: float = 1e-3,
        meta_batch: int = 4,
        meta_steps: int = 1000,
        first_order: bool = True,
        shots: int = 5,
        queries: int = 10,
        relabel: bool = True,
        seed: int = 0,
    ) -> None:
        self.ways = ways
        self.hidden = hidden
        self.inner_lr = inner_lr
        self.inner_steps = inner_steps
        self.outer_lr = outer_lr
        self.meta_batch = meta_batch
        self.meta_steps = meta_steps
        self.first_order = first_order
        self.shots = shots
        self.queries = queries
        self.relabel = relabel
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Meta-train the initialisation on episodes from the source groups; sets ``network_``
        and ``meta_losses_`` (mean query loss per outer step)."""
        sampler = episodes(
            features,
            labels,
            groups,
            ways=self.ways,
            shots=self.shots,
            queries=self.queries,
            rng=np.random.default_rng(self.seed),
            relabel=self.relabel,
        )
        with torch_seed(self.seed):
            self.network_ = mlp(np.shape(features)[1], self.hidden, self.ways)
            self.meta_losses_ = fit_full_batch(
                lambda: self._meta_loss([next(sampler) for _ in range(self.meta_batch)]),
                self.network_.parameters(),
                steps=self.meta_steps,
                learning_rate=self.outer_lr,
                optimizer="adam",
            )
        return self

    def meta_gradient(self, batch: list[Episode]) -> dict[str, torch.Tensor]:
        """Gradient of the mean post-adaptation query loss with respect to the initialisation.

        Uses the current ``network_`` (``meta_fit`` with ``meta_steps=0`` only initialises it)
        and the current ``first_order`` setting; the network is not updated.
        """
        loss = self._meta_loss(batch)
        names = [name for name, _ in self.network_.named_parameters()]
        grads = torch.autograd.grad(loss, list(self.network_.parameters()))
        return dict(zip(names, grads, strict=True))

    def _meta_loss(self, batch: list[Episode]) -> torch.Tensor:
        initial = dict(self.network_.named_parameters())
        losses = []
        for episode in batch:
            support_inputs, support_targets = as_tensors(
                episode.support_features, episode.support_labels
            )
            query_inputs, query_targets = as_tensors(episode.query_features, episode.query_labels)
            fast = _inner_loop(
                self.network_,
                initial,
                support_inputs,
                support_targets,
                learning_rate=self.inner_lr,
                steps=self.inner_steps,
                create_graph=not self.first_order,
            )
            logits = functional_call(self.network_, fast, (query_inputs,))
            losses.append(functional.cross_entropy(logits, query_targets))
        return torch.stack(losses).mean()

    def adapt(
        self, support_features: np.ndarray, support_labels: np.ndarray, steps: int | None = None
    ) -> AdaptedClassifier:
        """Fine-tune a copy of the initialisation on the target's labelled clips.

        Args:
            support_features: ``(K * C, D)`` target rows.
            support_labels: ``(K * C,)`` the target's own class ids.
            steps: SGD steps at ``inner_lr``; ``inner_steps`` if None.
        """
        classes, encoded = encode_labels(support_labels)
        network = copy.deepcopy(self.network_)
        if len(classes) != self.ways:
            network[-1] = _replicated_output(network[-1], len(classes))
        inputs, targets = as_tensors(support_features, encoded)
        params = {
            name: value.detach().clone().requires_grad_()
            for name, value in network.named_parameters()
        }
        fast = _inner_loop(
            network,
            params,
            inputs,
            targets,
            learning_rate=self.inner_lr,
            steps=self.inner_steps if steps is None else steps,
            create_graph=False,
        )
        with torch.no_grad():
            for name, value in network.named_parameters():
                value.copy_(fast[name])
        return AdaptedClassifier(network, classes)


def _replicated_output(layer: torch.nn.Linear, classes: int) -> torch.nn.Linear:
    """``classes`` outputs, each the mean of ``layer``'s rows (built empty: no random draw)."""
    resized = torch.nn.Linear(layer.in_features, classes, device="meta", dtype=layer.weight.dtype)
    resized = resized.to_empty(device=layer.weight.device)
    with torch.no_grad():
        resized.weight.copy_(layer.weight.mean(0, keepdim=True).expand(classes, -1))
        resized.bias.fill_(float(layer.bias.mean()))
    return resized


class SharedLabelMAML(MAMLClassifier):
    """:class:`MAMLClassifier` with ``relabel=False``: sources and target share the label
    space (harmonised emotions), so episodes keep class ids and the output layer learns them.

    Args: those of :class:`MAMLClassifier` except ``relabel``.
    """

    def __init__(
        self, *, ways: int = 4, hidden: int = 64, inner_lr: float = 0.1, inner_steps: int = 5,
        outer_lr: float = 1e-3, meta_batch: int = 4, meta_steps: int = 1000,
        first_order: bool = True, shots: int = 5, queries: int = 10, seed: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(ways=ways, hidden=hidden, inner_lr=inner_lr, inner_steps=inner_steps,
                         outer_lr=outer_lr, meta_batch=meta_batch, meta_steps=meta_steps,
                         first_order=first_order, shots=shots, queries=queries, relabel=False,
                         seed=seed)  # fmt: skip


class SecondOrderMAML(MAMLClassifier):
    """:class:`MAMLClassifier` with ``first_order=False``: the meta-gradient goes through the
    inner SGD steps (``create_graph=True``).

    Args: those of :class:`MAMLClassifier` except ``first_order``.
    """

    def __init__(
        self, *, ways: int = 4, hidden: int = 64, inner_lr: float = 0.1, inner_steps: int = 5,
        outer_lr: float = 1e-3, meta_batch: int = 4, meta_steps: int = 1000, shots: int = 5,
        queries: int = 10, relabel: bool = True, seed: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(ways=ways, hidden=hidden, inner_lr=inner_lr, inner_steps=inner_steps,
                         outer_lr=outer_lr, meta_batch=meta_batch, meta_steps=meta_steps,
                         first_order=False, shots=shots, queries=queries, relabel=relabel,
                         seed=seed)  # fmt: skip
