"""Classifier heads on pooled features: logistic regression, SVM (scikit-learn), MLP (torch).

Heads follow scikit-learn's estimator rules (keyword-only constructor that stores its
arguments, learned state ending in ``_``), so ``sklearn.base.clone`` and ``set_params`` work
and the tuner can build one per grid point. Inputs are standardised by the caller.

Shapes: ``features`` is ``(N, D)`` float, ``labels`` is ``(N,)`` int in ``[0, C)``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> features = np.r_[rng.normal(-2, 1, (20, 3)), rng.normal(2, 1, (20, 3))]
    >>> labels = np.r_[np.zeros(20, int), np.ones(20, int)]
    >>> bool((SVMHead(C=1.0).fit(features, labels).predict(features) == labels).mean() > 0.9)
    True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC


class Head(BaseEstimator):
    """Base class: ``fit``, ``predict``, optional ``predict_proba``, and the ``fit_many`` hook."""

    default_grid: ClassVar[dict[str, list[Any]]] = {}
    # True: fit takes every hidden state, (N, L + 1, D) (features.layer: null); else (N, D).
    mixes_layers: ClassVar[bool] = False

    def fit(self, features: np.ndarray, labels: np.ndarray) -> Head:
        raise NotImplementedError

    def predict(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit_many(
        self, features: np.ndarray, labels: np.ndarray, grid_points: list[dict[str, Any]]
    ) -> list[Head]:
        """One fitted copy per parameter set; heads override it to share work across points."""
        return [clone(self).set_params(**point).fit(features, labels) for point in grid_points]

    @staticmethod
    def predict_many(fitted: list[Head], features: np.ndarray) -> list[np.ndarray]:
        """Predictions of several heads from one ``fit_many`` call on the same rows."""
        return [head.predict(features) for head in fitted]

    def served(self) -> Head:
        """The fitted head that predicts at inference, which export saves: the head itself,
        or a wrapper's inner head (the GAN-augmented head's base head)."""
        return self


class SVMHead(Head):
    """Support vector machine (libsvm) on a kernel matrix computed with BLAS.

    libsvm evaluates kernels one pair at a time; for thousands of dimensions a single BLAS
    matrix product is far faster, and tuning ``C`` reuses the same matrix.

    Args:
        C: inverse regularisation strength.
        kernel: ``"linear"`` or ``"rbf"``.
        gamma: rbf width; ``"scale"`` = 1 / (D * var(features)).
        class_weight: ``"balanced"`` weights classes inversely to their frequency.
    """

    default_grid: ClassVar[dict[str, list[Any]]] = {"C": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]}

    def __init__(
        self,
        *,
        C: float = 1.0,  # noqa: N803 (scikit-learn's name)
        kernel: str = "linear",
        gamma: float | str = "scale",
        class_weight: str | None = "balanced",
    ) -> None:
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight

    def fit(self, features: np.ndarray, labels: np.ndarray) -> SVMHead:
        # scikit-learn's contract: fit sets learned state on self (fit_many returns clones)
        fitted = self.fit_many(features, labels, [{}])[0]
        self.support_features_, self.gamma_, self.svc_ = (
            fitted.support_features_,
            fitted.gamma_,
            fitted.svc_,
        )
        return self

    def fit_many(
        self, features: np.ndarray, labels: np.ndarray, grid_points: list[dict[str, Any]]
    ) -> list[Head]:
        features = np.asarray(features, dtype=np.float64)
        grams: dict[Any, np.ndarray] = {}
        fitted = []
        for point in grid_points:
            head = clone(self).set_params(**point)
            head.support_features_ = features
            head.gamma_ = head._gamma(features)
            key = (head.kernel, head.gamma_)
            if key not in grams:
                grams[key] = head._kernel(features)
            head.svc_ = SVC(kernel="precomputed", C=head.C, class_weight=head.class_weight)
            head.svc_.fit(grams[key], labels)
            fitted.append(head)
        return fitted

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.svc_.predict(self._kernel(np.asarray(features, dtype=np.float64)))

    @staticmethod
    def predict_many(fitted: list[Head], features: np.ndarray) -> list[np.ndarray]:
        # Heads from one fit_many share their training rows: one kernel per (kernel, gamma).
        features = np.asarray(features, dtype=np.float64)
        kernels: dict[tuple, np.ndarray] = {}
        result = []
        for head in fitted:
            key = (id(head.support_features_), head.kernel, head.gamma_)
            if key not in kernels:
                kernels[key] = head._kernel(features)
            result.append(head.svc_.predict(kernels[key]))
        return result

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        return self.svc_.decision_function(self._kernel(np.asarray(features, dtype=np.float64)))

    def _gamma(self, features: np.ndarray) -> float:
        if self.kernel == "linear":
            return 0.0
        if self.gamma == "scale":
            return 1.0 / (features.shape[1] * max(float(features.var()), 1e-12))
        return float(self.gamma)

    def _kernel(self, features: np.ndarray) -> np.ndarray:
        # float32 products are 3-4x faster and exact enough for standardised features.
        support = self.support_features_
        product = (features.astype(np.float32) @ support.astype(np.float32).T).astype(np.float64)
        if self.kernel == "linear":
            return product
        if self.kernel != "rbf":
            raise ValueError(f"SVMHead kernel {self.kernel!r}; known: linear, rbf")
        distance = (features**2).sum(1)[:, None] + (support**2).sum(1)[None] - 2 * product
        return np.exp(-self.gamma_ * np.maximum(distance, 0.0))


class LogisticRegressionHead(Head):
    """Multinomial logistic regression (L2, lbfgs) with class weighting.

    Args:
        C: inverse regularisation strength.
        max_iter: lbfgs iterations.
        class_weight: ``"balanced"`` or ``None``.
    """

    default_grid: ClassVar[dict[str, list[Any]]] = {"C": [1e-3, 1e-2, 1e-1, 1.0, 10.0]}

    def __init__(
        self,
        *,
        C: float = 1.0,  # noqa: N803
        max_iter: int = 2000,
        class_weight: str | None = "balanced",
    ) -> None:
        self.C = C
        self.max_iter = max_iter
        self.class_weight = class_weight

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LogisticRegressionHead:
        self.model_ = LogisticRegression(
            C=self.C, max_iter=self.max_iter, class_weight=self.class_weight
        ).fit(features, labels)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.model_.predict(features)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(features)


class RidgeHead(Head):
    """One-vs-all least-squares classifier (ridge) solved in closed form.

    With ``N`` training rows the solution for every ``alpha`` comes from one eigendecomposition
    of the ``N x N`` Gram matrix, so tuning ``alpha`` (and probing many layers) costs little.

    Args:
        alpha: L2 penalty.
        class_weight: ``"balanced"`` weights rows inversely to their class frequency.
    """

    default_grid: ClassVar[dict[str, list[Any]]] = {"alpha": [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]}

    def __init__(self, *, alpha: float = 1.0, class_weight: str | None = "balanced") -> None:
        self.alpha = alpha
        self.class_weight = class_weight

    def fit(self, features: np.ndarray, labels: np.ndarray) -> RidgeHead:
        fitted = self.fit_many(features, labels, [{}])[0]
        self.weights_, self.offset_ = fitted.weights_, fitted.offset_
        return self

    def fit_many(
        self, features: np.ndarray, labels: np.ndarray, grid_points: list[dict[str, Any]]
    ) -> list[Head]:
        features = np.asarray(features, dtype=np.float64)
        classes = int(labels.max()) + 1
        targets = np.eye(classes)[labels]
        weights = np.ones(len(labels))
        if self.class_weight == "balanced":
            counts = np.bincount(labels, minlength=classes)
            weights = len(labels) / (classes * np.maximum(counts[labels], 1))
        root = np.sqrt(weights)[:, None]
        feature_mean = (weights[:, None] * features).sum(0) / weights.sum()
        target_mean = (weights[:, None] * targets).sum(0) / weights.sum()
        scaled = root * (features - feature_mean)
        eigenvalues, eigenvectors = np.linalg.eigh(scaled @ scaled.T)
        projected = eigenvectors.T @ (root * (targets - target_mean))
        fitted = []
        for point in grid_points:
            head = clone(self).set_params(**point)
            dual = eigenvectors @ (projected / (np.maximum(eigenvalues, 0) + head.alpha)[:, None])
            head.weights_ = scaled.T @ dual
            head.offset_ = target_mean - feature_mean @ head.weights_
            fitted.append(head)
        return fitted

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ self.weights_ + self.offset_

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.decision_function(features).argmax(axis=1)
