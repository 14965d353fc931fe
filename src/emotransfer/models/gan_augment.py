"""GAN data augmentation of pooled embeddings: a conditional WGAN-GP learns each class's
distribution of the training rows' features, and a head trains on the real rows plus generated
ones (in the manner of Chatziagapi et al., "Data augmentation using GANs for speech emotion
recognition", Interspeech 2019, and Bao et al., "CycleGAN-based emotion style transfer as data
augmentation for speech emotion recognition", Interspeech 2019, which generate feature
vectors rather than audio).

The GAN is a head's own fitted state, so it only ever sees the rows the head is fitted on:
inside a run, one outer fold's training speakers (and, while the grid search chooses ``C``, one
inner split's); the test speakers never. Generator and critic are two-layer MLPs conditioned
on the one-hot class; the critic is trained with the gradient penalty of Gulrajani et al.
("Improved training of Wasserstein GANs", NeurIPS 2017: ``lambda`` 10, five critic steps per
generator step, Adam with betas (0.5, 0.9)). The base head (``svm`` or ``logreg``) then fits
``ratio x n_c`` generated rows per class beside the ``n_c`` real ones. At inference only the
base head is used (and exported): the generator is not part of the served model.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = np.r_[rng.normal(-2, 1, (20, 3)), rng.normal(2, 1, (20, 3))]
    >>> labels = np.r_[np.zeros(20, int), np.ones(20, int)]
    >>> head = GANAugmentedHead(steps=100).fit(features, labels)
    >>> head.generated_[0].shape, bool((head.predict(features) == labels).mean() > 0.9)
    ((40, 3), True)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import clone

from emotransfer import registry
from emotransfer.models.heads import Head, SVMHead
from emotransfer.seeding import torch_seed, torch_threads

BASES = ("svm", "logreg")  # heads that take C, fitted on real + generated rows


def _mlp(inputs: int, hidden: int, outputs: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(hidden, hidden), torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(hidden, outputs),
    )  # fmt: skip


def train_wgan_gp(
    features: np.ndarray, labels: np.ndarray, *, classes: int, noise: int, hidden: int,
    steps: int, critic_steps: int, penalty: float, learning_rate: float, batch_size: int,
) -> torch.nn.Module:  # fmt: skip
    """A conditional generator ``G([z, onehot(y)]) -> x`` trained with WGAN-GP on the rows
    (call under a seeded scope; the rows are standardised features)."""
    real = torch.as_tensor(features, dtype=torch.float32)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(labels), classes).float()
    generator = _mlp(noise + classes, hidden, real.shape[1])
    critic = _mlp(real.shape[1] + classes, hidden, 1)
    betas = (0.5, 0.9)
    generator_step = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=betas)
    critic_step = torch.optim.Adam(critic.parameters(), lr=learning_rate, betas=betas)
    rows, batch = len(real), min(batch_size, len(real))
    for _ in range(steps):
        for _ in range(critic_steps):
            chosen = torch.randint(rows, (batch,))
            x, y = real[chosen], onehot[chosen]
            fake = generator(torch.cat([torch.randn(batch, noise), y], 1)).detach()
            share = torch.rand(batch, 1)
            mixed = (share * x + (1 - share) * fake).requires_grad_(True)
            (slope,) = torch.autograd.grad(critic(torch.cat([mixed, y], 1)).sum(), mixed,
                                           create_graph=True)  # fmt: skip
            loss = (critic(torch.cat([fake, y], 1)).mean() - critic(torch.cat([x, y], 1)).mean()
                    + penalty * ((slope.norm(dim=1) - 1) ** 2).mean())  # fmt: skip
            critic_step.zero_grad()
            loss.backward()
            critic_step.step()
        y = onehot[torch.randint(rows, (batch,))]
        fake = generator(torch.cat([torch.randn(batch, noise), y], 1))
        loss = -critic(torch.cat([fake, y], 1)).mean()
        generator_step.zero_grad()
        loss.backward()
        generator_step.step()
    return generator.eval()


class GANAugmentedHead(Head):
    """A base head fitted on the real rows plus rows a conditional WGAN-GP generates.

    Args:
        head: the base head, ``svm`` or ``logreg``; ``C`` is its regularisation (the grid).
        ratio: generated rows per real row of each class.
        noise, hidden: the generator's noise size and both networks' hidden width.
        steps: generator steps; ``critic_steps`` critic steps each.
        penalty: the gradient penalty's weight.
        learning_rate, batch_size: Adam's rate and the rows per step.
        seed: seeds the GAN (the caller's torch generator is left as it was).
    """

    default_grid: ClassVar[dict[str, list[Any]]] = dict(SVMHead.default_grid)

    def __init__(
        self, *, head: str = "svm", C: float = 1.0, ratio: float = 1.0,  # noqa: N803
        noise: int = 32, hidden: int = 128, steps: int = 300, critic_steps: int = 5,
        penalty: float = 10.0, learning_rate: float = 1e-3, batch_size: int = 64, seed: int = 0,
    ) -> None:  # fmt: skip
        self.head, self.C, self.ratio = head, C, ratio
        self.noise, self.hidden, self.steps, self.critic_steps = noise, hidden, steps, critic_steps
        self.penalty, self.learning_rate, self.batch_size = penalty, learning_rate, batch_size
        self.seed = seed

    def fit(self, features: np.ndarray, labels: np.ndarray) -> GANAugmentedHead:
        fitted = self.fit_many(features, labels, [{}])[0]
        self.generated_, self.base_ = fitted.generated_, fitted.base_
        return self

    def fit_many(
        self, features: np.ndarray, labels: np.ndarray, grid_points: list[dict[str, Any]]
    ) -> list[Head]:
        """One GAN for the rows (its generated rows shared by every grid point), then one base
        head per point on real + generated rows."""
        if self.head not in BASES:
            raise ValueError(f"gan head: head {self.head!r}: one of {list(BASES)}")
        if self.ratio <= 0 or self.steps < 1:
            raise ValueError(f"gan head: ratio {self.ratio} must be > 0 and steps {self.steps} "
                             ">= 1")  # fmt: skip
        features = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels, dtype=np.int64)
        generated = self.generate(features, labels)
        rows = np.concatenate([features, generated[0]])
        targets = np.concatenate([labels, generated[1]])
        fitted = []
        for point in grid_points:
            head = clone(self).set_params(**point)
            head.generated_ = generated
            head.base_ = registry.build("head", head.head, C=head.C).fit(rows, targets)
            fitted.append(head)
        return fitted

    def generate(self, features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``round(ratio x n_c)`` generated rows per class ``c`` of ``labels`` and their classes."""
        classes = int(labels.max()) + 1
        # small networks: one thread is faster than several (and leaves the others' count)
        with torch_seed(self.seed), torch_threads(1):
            generator = train_wgan_gp(
                features, labels, classes=classes, noise=self.noise, hidden=self.hidden,
                steps=self.steps, critic_steps=self.critic_steps, penalty=self.penalty,
                learning_rate=self.learning_rate, batch_size=self.batch_size,
            )  # fmt: skip
            wanted = np.repeat(np.arange(classes), [int(round(self.ratio * np.sum(labels == c)))
                                                    for c in range(classes)])  # fmt: skip
            onehot = torch.nn.functional.one_hot(torch.as_tensor(wanted), classes).float()
            with torch.no_grad():
                rows = generator(torch.cat([torch.randn(len(wanted), self.noise), onehot], 1))
        return rows.double().numpy(), wanted

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.base_.predict(features)

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        return self.base_.decision_function(features)

    def served(self) -> Head:
        """The fitted base head: what predicts, and what export saves."""
        return self.base_
