"""Few-shot emotion recognition for a new language or corpus on pooled features.

Several labelled *source* tasks (one per language or corpus, told apart by ``groups``) are
used to learn an initialisation that adapts quickly; a *target* task then gives only K
labelled clips per class. Three learners share one API, so the MetaSER comparison is a loop:

* :class:`MAMLClassifier`: model-agnostic meta-learning (Finn et al. 2017), first or second
  order, on episodes from :func:`episodes`.
* :class:`TransferBaseline`: pre-train on all source rows pooled, fine-tune on the support set.
* :class:`MultitaskBaseline`: a shared trunk with one head per source task; adapt = new head.
* :class:`ScratchBaseline`: the same MLP trained on the support set only.

Each has ``meta_fit(features, labels, groups)`` and ``adapt(support_features, support_labels)``
returning an :class:`AdaptedClassifier`; :func:`few_shot_evaluation` repeats support sampling
and reports mean UAR with a t-interval. Inputs are standardised by the caller.

Shapes: ``features`` ``(N, D)`` float, ``labels`` ``(N,)`` int, ``groups`` ``(N,)`` any
hashable ids (source task of each row). Labels of different source tasks are harmonised
(one id = one emotion everywhere); only the pooled baselines rely on that.

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
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np
import torch
from scipy import stats
from sklearn.base import BaseEstimator
from torch.func import functional_call
from torch.nn import functional

from emotransfer.evaluation.metrics import uar
from emotransfer.models.losses import balanced_class_weights


@dataclass(frozen=True)
class Episode:
    """One N-way K-shot task drawn from a single source group.

    ``support_*`` hold ``ways * shots`` rows and ``query_*`` ``ways * queries`` rows; labels
    are episode-local in ``[0, ways)`` and ``classes[i]`` is the original label of class ``i``.
    ``*_indices`` point into the arrays given to :func:`episodes`.
    """

    support_features: np.ndarray
    support_labels: np.ndarray
    query_features: np.ndarray
    query_labels: np.ndarray
    group: Hashable
    classes: np.ndarray
    support_indices: np.ndarray
    query_indices: np.ndarray


def episodes(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    ways: int,
    shots: int,
    queries: int,
    rng: np.random.Generator,
    relabel: bool = True,
) -> Iterator[Episode]:
    """Endless N-way K-shot episodes, each from one source group chosen uniformly.

    A group takes part if it has at least ``ways`` classes with ``shots + queries`` rows each.
    Classes of an episode are drawn at random and relabelled ``0..ways-1`` in random order,
    so no output unit can memorise an emotion. With ``relabel=False`` (sources and target
    share one label space, e.g. harmonised emotions) every episode holds all ``ways`` classes
    under their own ids ``0..ways-1``, so the output layer learns the emotions themselves.

    Raises:
        ValueError: if no group can fill an episode, or ``relabel=False`` and the labels are
            not exactly ``0..ways-1``.

    Example:
        >>> labels = np.repeat(np.arange(3), 4)
        >>> groups = np.tile(["de", "en"], 6)
        >>> sampler = episodes(np.zeros((12, 2)), labels, groups, ways=2, shots=1, queries=1,
        ...                    rng=np.random.default_rng(0))
        >>> episode = next(sampler)
        >>> episode.support_features.shape, sorted(episode.support_labels.tolist())
        ((2, 2), [0, 1])
    """
    features, labels, groups = np.asarray(features), np.asarray(labels), np.asarray(groups)
    if not relabel and sorted(np.unique(labels).tolist()) != list(range(ways)):
        raise ValueError(f"relabel=False needs labels 0..{ways - 1} (ways = the number of "
                         f"shared classes); have {np.unique(labels).tolist()}")  # fmt: skip
    needed = shots + queries
    pools: dict[Hashable, dict[int, np.ndarray]] = {}
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        by_class = {int(c): rows[labels[rows] == c] for c in np.unique(labels[rows])}
        usable = {c: members for c, members in by_class.items() if len(members) >= needed}
        if len(usable) >= ways:
            pools[group.item() if hasattr(group, "item") else group] = usable
    if not pools:
        raise ValueError(
            f"no group has {ways} classes with {needed} rows each (shots={shots}, "
            f"queries={queries})"
        )
    if not relabel:
        pools = {name: pool for name, pool in pools.items() if len(pool) == ways}
        if not pools:
            raise ValueError(f"no group has all {ways} classes with {needed} rows each")
    return _episode_stream(features, pools, ways, shots, queries, rng, relabel)


def _episode_stream(
    features: np.ndarray,
    pools: dict[Hashable, dict[int, np.ndarray]],
    ways: int,
    shots: int,
    queries: int,
    rng: np.random.Generator,
    relabel: bool = True,
) -> Iterator[Episode]:
    names = list(pools)
    while True:
        group = names[rng.integers(len(names))]
        available = np.array(sorted(pools[group]))
        classes = rng.choice(available, size=ways, replace=False) if relabel else available
        picks = [rng.choice(pools[group][int(c)], shots + queries, replace=False) for c in classes]
        support = np.concatenate([rows[:shots] for rows in picks])
        query = np.concatenate([rows[shots:] for rows in picks])
        yield Episode(
            support_features=features[support],
            support_labels=np.repeat(np.arange(ways), shots),
            query_features=features[query],
            query_labels=np.repeat(np.arange(ways), queries),
            group=group,
            classes=classes,
            support_indices=support,
            query_indices=query,
        )


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
        return self.classes[self.predict_proba(features).argmax(axis=1)]


class FewShotLearner(Protocol):
    """What :func:`few_shot_evaluation` needs: meta-training on sources, adaptation to a target."""

    def meta_fit(
        self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray
    ) -> FewShotLearner: ...

    def adapt(
        self, support_features: np.ndarray, support_labels: np.ndarray, steps: int | None = None
    ) -> AdaptedClassifier: ...


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    # Seed torch's global generator for layer initialisation without disturbing the caller's.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _mlp(inputs: int, hidden: int, outputs: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, outputs)
    )


def _tensors(features: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.as_tensor(np.asarray(features), dtype=torch.float32),
        torch.as_tensor(np.asarray(labels), dtype=torch.long),
    )


def _encode(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class ids present and each label's index among them."""
    classes = np.unique(labels)
    return classes, np.searchsorted(classes, labels)


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


def _fine_tune(
    network: torch.nn.Module,
    parameters: list[torch.nn.Parameter],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    learning_rate: float,
    steps: int,
) -> None:
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    network.train()
    for _ in range(steps):
        optimizer.zero_grad()
        functional.cross_entropy(network(inputs), targets).backward()
        optimizer.step()
    network.eval()


class MAMLClassifier(BaseEstimator):
    """MAML with a one-hidden-layer MLP (``D -> hidden -> ways``) and SGD fast weights.

    Each outer step samples ``meta_batch`` episodes, adapts a copy of the initialisation with
    ``inner_steps`` SGD steps on the support rows (through ``torch.func.functional_call``) and
    updates the initialisation with Adam on the mean query loss after adaptation.

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
        seed: seeds the initialisation and the episode sampler.
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
        with _seeded(self.seed):
            self.network_ = _mlp(np.shape(features)[1], self.hidden, self.ways)
        optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.outer_lr)
        self.meta_losses_: list[float] = []
        for _ in range(self.meta_steps):
            optimizer.zero_grad()
            loss = self._meta_loss([next(sampler) for _ in range(self.meta_batch)])
            loss.backward()
            optimizer.step()
            self.meta_losses_.append(loss.item())
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
            support_inputs, support_targets = _tensors(
                episode.support_features, episode.support_labels
            )
            query_inputs, query_targets = _tensors(episode.query_features, episode.query_labels)
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
        classes, encoded = _encode(support_labels)
        network = copy.deepcopy(self.network_)
        if len(classes) != self.ways:
            network[-1] = _replicated_output(network[-1], len(classes))
        inputs, targets = _tensors(support_features, encoded)
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
    resized = torch.nn.Linear(layer.in_features, classes)
    with torch.no_grad():
        resized.weight.copy_(layer.weight.mean(0, keepdim=True).expand(classes, -1))
        resized.bias.fill_(float(layer.bias.mean()))
    return resized


class _SupportFineTuning(BaseEstimator):
    """Adaptation shared by the baselines: a new output layer, then Adam on the support set."""

    hidden: int
    adapt_lr: float
    adapt_steps: int
    finetune_trunk: bool
    seed: int

    def _trunk(self, inputs: int) -> torch.nn.Module:
        """The network below the output layer for ``inputs`` features."""
        raise NotImplementedError

    def adapt(
        self, support_features: np.ndarray, support_labels: np.ndarray, steps: int | None = None
    ) -> AdaptedClassifier:
        """New output layer for the target's classes; fine-tune it (and the trunk if
        ``finetune_trunk``) for ``steps`` (default ``adapt_steps``) Adam steps."""
        classes, encoded = _encode(support_labels)
        inputs, targets = _tensors(support_features, encoded)
        with _seeded(self.seed):
            trunk = self._trunk(inputs.shape[1])
            output = torch.nn.Linear(self.hidden, len(classes))
        network = torch.nn.Sequential(trunk, output)
        trained = network.parameters() if self.finetune_trunk else output.parameters()
        _fine_tune(
            network,
            list(trained),
            inputs,
            targets,
            learning_rate=self.adapt_lr,
            steps=self.adapt_steps if steps is None else steps,
        )
        return AdaptedClassifier(network, classes)


class ScratchBaseline(_SupportFineTuning):
    """The MLP trained from random initialisation on the support set alone (no source data).

    Args:
        hidden: hidden units.
        adapt_lr: Adam learning rate on the support set.
        adapt_steps: full-batch Adam steps.
        seed: seeds the initialisation.
    """

    finetune_trunk = True

    def __init__(
        self, *, hidden: int = 64, adapt_lr: float = 1e-2, adapt_steps: int = 100, seed: int = 0
    ) -> None:
        self.hidden = hidden
        self.adapt_lr = adapt_lr
        self.adapt_steps = adapt_steps
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Nothing to learn from the sources; :meth:`adapt` works without this call."""
        return self

    def _trunk(self, inputs: int) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(inputs, self.hidden), torch.nn.ReLU())


class TransferBaseline(_SupportFineTuning):
    """Pre-train the MLP on all source rows pooled, then fine-tune on the support set.

    Pre-training is multi-class over the union of the (harmonised) source labels with
    class-balanced cross-entropy; adaptation replaces the output layer.

    Args:
        hidden: hidden units.
        learning_rate: AdamW learning rate of pre-training.
        epochs: full-batch pre-training steps.
        weight_decay: AdamW weight decay of pre-training.
        adapt_lr: Adam learning rate on the support set.
        adapt_steps: full-batch Adam steps on the support set.
        finetune_trunk: fine-tune the hidden layer too, not only the new output layer.
        seed: seeds initialisations.
    """

    def __init__(
        self,
        *,
        hidden: int = 64,
        learning_rate: float = 1e-2,
        epochs: int = 200,
        weight_decay: float = 1e-4,
        adapt_lr: float = 1e-2,
        adapt_steps: int = 100,
        finetune_trunk: bool = True,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.adapt_lr = adapt_lr
        self.adapt_steps = adapt_steps
        self.finetune_trunk = finetune_trunk
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Pre-train on the pooled sources (``groups`` unused); sets ``network_``, ``classes_``."""
        self.classes_, encoded = _encode(labels)
        inputs, targets = _tensors(features, encoded)
        with _seeded(self.seed):
            self.network_ = _mlp(inputs.shape[1], self.hidden, len(self.classes_))
        optimizer = torch.optim.AdamW(
            self.network_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        weights = balanced_class_weights(targets)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            functional.cross_entropy(self.network_(inputs), targets, weight=weights).backward()
            optimizer.step()
        return self

    def _trunk(self, inputs: int) -> torch.nn.Module:
        return copy.deepcopy(self.network_[:-1])


class MultitaskBaseline(_SupportFineTuning):
    """A shared hidden layer with one output head per source group, trained jointly.

    The loss is the mean over groups of each group's class-balanced cross-entropy on its own
    classes, so every source task counts equally whatever its size. Adaptation adds a new head
    (and fine-tunes the trunk if ``finetune_trunk``).

    Args:
        hidden: hidden units.
        learning_rate: AdamW learning rate of joint training.
        epochs: full-batch joint training steps.
        weight_decay: AdamW weight decay.
        adapt_lr: Adam learning rate on the support set.
        adapt_steps: full-batch Adam steps on the support set.
        finetune_trunk: fine-tune the shared layer too, not only the new head.
        seed: seeds initialisations.
    """

    def __init__(
        self,
        *,
        hidden: int = 64,
        learning_rate: float = 1e-2,
        epochs: int = 200,
        weight_decay: float = 1e-4,
        adapt_lr: float = 1e-2,
        adapt_steps: int = 100,
        finetune_trunk: bool = False,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.weight_decay = weight_decay
        self.adapt_lr = adapt_lr
        self.adapt_steps = adapt_steps
        self.finetune_trunk = finetune_trunk
        self.seed = seed

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Train trunk and per-group heads; sets ``trunk_``, ``heads_`` and ``groups_``."""
        groups = np.asarray(groups)
        labels = np.asarray(labels)
        self.groups_ = np.unique(groups)
        tasks = []
        for group in self.groups_:
            rows = groups == group
            _, encoded = _encode(labels[rows])
            tasks.append(_tensors(np.asarray(features)[rows], encoded))
        with _seeded(self.seed):
            self.trunk_ = torch.nn.Sequential(
                torch.nn.Linear(np.shape(features)[1], self.hidden), torch.nn.ReLU()
            )
            self.heads_ = torch.nn.ModuleList(
                torch.nn.Linear(self.hidden, int(targets.max()) + 1) for _, targets in tasks
            )
        parameters = [*self.trunk_.parameters(), *self.heads_.parameters()]
        optimizer = torch.optim.AdamW(
            parameters, lr=self.learning_rate, weight_decay=self.weight_decay
        )
        weights = [balanced_class_weights(targets) for _, targets in tasks]
        for _ in range(self.epochs):
            optimizer.zero_grad()
            losses = [
                functional.cross_entropy(head(self.trunk_(inputs)), targets, weight=weight)
                for head, (inputs, targets), weight in zip(self.heads_, tasks, weights, strict=True)
            ]
            torch.stack(losses).mean().backward()
            optimizer.step()
        return self

    def _trunk(self, inputs: int) -> torch.nn.Module:
        return copy.deepcopy(self.trunk_)


def few_shot_evaluation(
    method: FewShotLearner,
    target_features: np.ndarray,
    target_labels: np.ndarray,
    *,
    shots: int,
    repeats: int,
    seed: int,
    target_groups: np.ndarray | None = None,
    steps: int | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Mean UAR over repeated K-shot adaptations to a target, with a t-interval over repeats.

    Each repeat draws ``shots`` support clips per class, adapts ``method`` (already
    meta-fitted) and scores UAR on the remaining clips. With ``target_groups`` (speaker ids)
    the support clips come from some speakers and the query clips from the others; when no
    speaker split leaves every class on both sides, that repeat falls back to a random split
    and ``speaker_independent`` in the result is False.

    Returns:
        ``mean_uar``, ``ci_low``, ``ci_high`` (None with one repeat), ``std``, ``uars`` (one
        per repeat), ``speaker_independent``, ``shots``, ``repeats``, ``confidence``.

    Raises:
        ValueError: if a class has no more than ``shots`` clips.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = np.repeat(np.arange(2), 12)
        >>> features = 4.0 * np.eye(3)[labels] + rng.normal(0, 0.5, (24, 3))
        >>> method = ScratchBaseline(hidden=8, adapt_steps=10)
        >>> result = few_shot_evaluation(method, features, labels, shots=3, repeats=3, seed=0)
        >>> result["ci_low"] <= result["mean_uar"] <= result["ci_high"]
        True
    """
    features = np.asarray(target_features)
    classes, encoded = _encode(target_labels)
    counts = np.bincount(encoded, minlength=len(classes))
    if counts.min() <= shots:
        raise ValueError(f"every class needs more than {shots} clips; counts {counts.tolist()}")
    rng = np.random.default_rng(seed)
    uars, independent = [], []
    for _ in range(repeats):
        support, query, split_by_speaker = _support_query(encoded, target_groups, shots, rng)
        predictor = method.adapt(features[support], encoded[support], steps=steps)
        uars.append(uar(encoded[query], predictor.predict(features[query]), len(classes)))
        independent.append(split_by_speaker)
    mean, low, high = _t_interval(np.array(uars), confidence)
    return {
        "mean_uar": mean,
        "ci_low": low,
        "ci_high": high,
        "std": float(np.std(uars, ddof=1)) if repeats > 1 else 0.0,
        "uars": uars,
        "speaker_independent": bool(independent) and all(independent),
        "shots": shots,
        "repeats": repeats,
        "confidence": confidence,
    }


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float | None, float | None]:
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    error = float(values.std(ddof=1) / np.sqrt(len(values)))
    half = float(stats.t.ppf(0.5 + confidence / 2, df=len(values) - 1)) * error
    return mean, mean - half, mean + half


def _support_query(
    labels: np.ndarray, groups: np.ndarray | None, shots: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Support and query row indices, and whether they come from disjoint speakers."""
    if groups is not None:
        pool = _speaker_pool(labels, np.asarray(groups), shots, rng)
        if pool is not None:
            support = _per_class_sample(labels, np.flatnonzero(pool), shots, rng)
            return support, np.flatnonzero(~pool), True
    support = _per_class_sample(labels, np.arange(len(labels)), shots, rng)
    return support, np.setdiff1d(np.arange(len(labels)), support), False


def _speaker_pool(
    labels: np.ndarray, groups: np.ndarray, shots: int, rng: np.random.Generator, tries: int = 10
) -> np.ndarray | None:
    """Rows of a set of speakers with ``shots`` clips of every class, leaving every class to the
    other speakers; None if random greedy orders find none."""
    classes = np.unique(labels)
    speakers = np.unique(groups)
    for _ in range(tries):
        chosen: list[Any] = []
        for speaker in rng.permutation(speakers):
            chosen.append(speaker)
            pool = np.isin(groups, chosen)
            if all((labels[pool] == c).sum() >= shots for c in classes):
                if all((labels[~pool] == c).any() for c in classes):
                    return pool
                break
    return None


def _per_class_sample(
    labels: np.ndarray, rows: np.ndarray, shots: int, rng: np.random.Generator
) -> np.ndarray:
    return np.concatenate(
        [rng.choice(rows[labels[rows] == c], shots, replace=False) for c in np.unique(labels)]
    )
