"""Few-shot learning over every hidden state: the layer is chosen on the support clips alone.

Which layer of a pretrained encoder carries emotion differs between corpora and languages
(issue-3 probes: EmoDB peaks in the middle layers, URDU in the lowest), so a layer chosen on
the sources may be the wrong one for a new language. :class:`SupportLayerChoice` meta-fits one
copy of a few-shot learner per hidden state and, at adaptation, scores every state by
cross-validation within the K labelled support clips (fold ``i`` holds out the ``i``-th clip of
every class), then adapts on the best state with the whole support set. No query clip and no
other target label takes part in the choice.

Shapes: features ``(N, L + 1, D)``; support labels ``(K * C,)``.

Example:
    >>> from emotransfer.models.fewshot_baselines import ScratchBaseline
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(2), 10)
    >>> features = rng.normal(size=(20, 3, 4))
    >>> features[:, 2, 0] += 4.0 * labels  # only hidden state 2 knows the class
    >>> method = SupportLayerChoice(method=ScratchBaseline(hidden=8, adapt_steps=30))
    >>> adapted = method.meta_fit(features, labels, np.zeros(20)).adapt(features[::2], labels[::2])
    >>> adapted.layer
    2
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, clone

from emotransfer.evaluation.metrics import uar
from emotransfer.models.adapted import encode_labels


class LayerAdapted:
    """An adapted classifier that reads one hidden state of ``(N, L + 1, D)`` features.

    Attributes:
        layer: the chosen hidden state.
        scores: support cross-validation UAR of every hidden state (empty when not scored).
    """

    def __init__(self, classifier: Any, layer: int, scores: list[float]) -> None:
        self.classifier = classifier
        self.layer = layer
        self.scores = scores

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self.classifier.predict_proba(np.asarray(features)[:, self.layer])

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.classifier.predict(np.asarray(features)[:, self.layer])


class SupportLayerChoice(BaseEstimator):
    """A few-shot learner on the hidden state that cross-validates best on the support set.

    Args:
        method: the few-shot learner (``meta_fit`` / ``adapt``, e.g. ``TransferBaseline``),
            cloned once per hidden state.
        fallback_layer: the state used when the support set has one clip of some class (no
            cross-validation is possible), e.g. one chosen on the sources.
    """

    def __init__(self, *, method: Any, fallback_layer: int = 0) -> None:
        self.method = method
        self.fallback_layer = fallback_layer

    def meta_fit(self, features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> Self:
        """Meta-fit one copy of ``method`` per hidden state; sets ``learners_``."""
        features = _three_dimensional(features)
        self.learners_ = [clone(self.method).meta_fit(features[:, layer], labels, groups)
                          for layer in range(features.shape[1])]  # fmt: skip
        return self

    def adapt(
        self, support_features: np.ndarray, support_labels: np.ndarray, steps: int | None = None
    ) -> LayerAdapted:
        """Score every hidden state by leave-one-clip-per-class-out on the support set, adapt
        on the best one (ties: the lower state)."""
        features = _three_dimensional(support_features)
        labels = np.asarray(support_labels)
        if len(self.learners_) != features.shape[1]:
            raise ValueError(
                f"support features have {features.shape[1]} hidden states, the learner was "
                f"meta-fitted on {len(self.learners_)}"
            )
        folds = _support_folds(labels)
        scores: list[float] = []
        if folds:
            classes, encoded = encode_labels(labels)
            for layer, learner in enumerate(self.learners_):
                fold_scores = []
                for held in folds:
                    keep = np.setdiff1d(np.arange(len(labels)), held)
                    adapted = learner.adapt(features[keep, layer], labels[keep], steps)
                    guess = np.searchsorted(classes, adapted.predict(features[held, layer]))
                    fold_scores.append(uar(encoded[held], guess, len(classes)))
                scores.append(float(np.mean(fold_scores)))
            layer = int(np.argmax(scores))
        else:
            layer = self.fallback_layer
        classifier = self.learners_[layer].adapt(features[:, layer], labels, steps)
        return LayerAdapted(classifier, layer, scores)


def _three_dimensional(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features)
    if features.ndim != 3:
        raise ValueError(
            f"expected (N, L + 1, D) features of every hidden state, got {features.shape}"
        )
    return features


def _support_folds(labels: np.ndarray) -> list[np.ndarray]:
    """Fold ``i`` holds the ``i``-th support clip of every class; none if a class has one clip."""
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    count = min(len(rows) for rows in by_class)
    if count < 2:
        return []
    return [np.array([rows[i] for rows in by_class]) for i in range(count)]
