"""Trained heads as plain arrays (safetensors), and numpy predictors rebuilt from them.

Frozen-feature runs save each fold's standardiser and head this way, so inference needs no
pickle and no scikit-learn object: ``export_head`` turns a fitted head into named arrays,
``ExportedHead`` predicts from them.

Example:
    >>> from emotransfer.models.heads import RidgeHead
    >>> rng = np.random.default_rng(0)
    >>> features, labels = rng.normal(size=(30, 4)), np.arange(30) % 3
    >>> head = RidgeHead(alpha=1.0).fit(features, labels)
    >>> exported = ExportedHead(export_head(head))
    >>> bool((exported.predict(features) == head.predict(features)).all())
    True
"""

from __future__ import annotations

import numpy as np

from emotransfer.models.heads import Head, LogisticRegressionHead, RidgeHead, SVMHead


def export_head(head: Head) -> dict[str, np.ndarray]:
    """Named arrays that determine the head's predictions (``kind`` says how to use them)."""
    if isinstance(head, RidgeHead):
        return {"kind": np.array([0]), "weights": head.weights_, "offset": head.offset_}
    if isinstance(head, LogisticRegressionHead):
        model = head.model_
        return {"kind": np.array([1]), "weights": model.coef_.T, "offset": model.intercept_,
                "classes": model.classes_.astype(np.int64)}  # fmt: skip
    if isinstance(head, SVMHead):
        svc = head.svc_
        return {"kind": np.array([2]), "support": head.support_features_[svc.support_],
                "dual_coef": svc.dual_coef_, "intercept": svc.intercept_,
                "n_support": svc.n_support_.astype(np.int64),
                "classes": svc.classes_.astype(np.int64),
                "gamma": np.array([head.gamma_ if head.kernel == "rbf" else 0.0]),
                "rbf": np.array([int(head.kernel == "rbf")])}  # fmt: skip
    if hasattr(head, "network_"):  # MLPHead: Linear -> ReLU -> Dropout -> Linear
        first, last = head.network_[0], head.network_[3]
        return {"kind": np.array([3]), "w1": first.weight.detach().numpy().T,
                "b1": first.bias.detach().numpy(), "w2": last.weight.detach().numpy().T,
                "b2": last.bias.detach().numpy()}  # fmt: skip
    layers = _relu_stack(head)
    if layers is not None:
        arrays = {"kind": np.array([4]), "depth": np.array([len(layers)])}
        for number, layer in enumerate(layers):
            arrays[f"w{number}"] = layer.weight.detach().numpy().T
            arrays[f"b{number}"] = layer.bias.detach().numpy()
        return arrays
    raise ValueError(f"cannot export a {type(head).__name__}: export supports ridge, logreg, "
                     "svm, mlp, dann and multitask heads")  # fmt: skip


def _relu_stack(head: Head) -> list | None:
    """The linear layers of a head that predicts with Linear -> ReLU -> ... -> Linear (dropout
    aside): DANN's extractor + emotion classifier, the multitask trunk + emotion head."""
    import torch

    from emotransfer.models.domain import DANNHead
    from emotransfer.models.multitask import MultitaskHead

    if isinstance(head, DANNHead):
        modules = [*head.module_.encoder, head.module_.classifier]
    elif isinstance(head, MultitaskHead):
        modules = [*head.trunk_, head.heads_["emotion"]]
    else:
        return None
    allowed = (torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout)
    if not all(isinstance(m, allowed) for m in modules):
        return None
    return [m for m in modules if isinstance(m, torch.nn.Linear)]


# The arrays each kind of export needs (``kind`` 4 also needs w<i>, b<i> for i < depth).
REQUIRED = {0: ("weights", "offset"), 1: ("weights", "offset", "classes"),
            2: ("support", "dual_coef", "intercept", "n_support", "classes", "gamma", "rbf"),
            3: ("w1", "b1", "w2", "b2"), 4: ("depth",)}  # fmt: skip


class ExportedHead:
    """Predictions from :func:`export_head` arrays, in numpy.

    A fold whose training clips lacked a class has no output for it: :meth:`class_indices`
    says which of the run's classes its outputs are, :meth:`class_probabilities` places them
    in the run's columns.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def check(self) -> ExportedHead:
        """Refuse arrays that are not a complete export (e.g. read from an edited file).

        Raises:
            ValueError: an unknown ``kind``, a missing array or inconsistent sizes (named).
        """
        a = self.arrays
        kind = int(a["kind"][0]) if "kind" in a and a["kind"].size == 1 else None
        if kind not in REQUIRED:
            raise ValueError(f"'kind' must be one of {sorted(REQUIRED)}")
        needed = list(REQUIRED[kind])
        if kind == 4:
            needed += [f"{p}{i}" for i in range(int(a["depth"][0])) for p in "wb"]
        missing = [name for name in needed if name not in a]
        if missing:
            raise ValueError(f"a kind {kind} head needs the arrays {missing}")
        if kind == 2:
            outputs = len(a["n_support"])
        else:
            outputs = self.scores(np.zeros((1, self.input_size()))).shape[1]
        if len(self.class_indices()) != outputs:
            raise ValueError(f"{len(self.class_indices())} classes but {outputs} outputs")
        return self

    def input_size(self) -> int:
        """Number of features the head takes."""
        a = self.arrays
        kind = int(a["kind"][0])
        first = {0: "weights", 1: "weights", 2: "support", 3: "w1", 4: "w0"}[kind]
        return int(a[first].shape[1] if kind == 2 else a[first].shape[0])

    def class_indices(self) -> np.ndarray:
        """The run's class index of each output (of :meth:`scores`; of the votes of an SVM):
        the exported ``classes``, else ``0 .. C - 1``."""
        a = self.arrays
        if "classes" in a:
            return a["classes"].astype(np.int64)
        kind = int(a["kind"][0])
        last = {0: "offset", 3: "b2"}.get(kind) or f"b{int(a['depth'][0]) - 1}"
        return np.arange(len(a[last]))

    def class_probabilities(self, features: np.ndarray, num_classes: int) -> np.ndarray:
        """``(N, num_classes)`` in the run's class columns: probabilities (ridge scores through
        a softmax), or for an SVM one vote; a class the fold never saw gets 0."""
        kind = int(self.arrays["kind"][0])
        columns = self.class_indices()
        result = np.zeros((len(features), num_classes))
        if kind == 2:
            result[np.arange(len(features)), self.predict(features)] = 1.0
            return result
        scores = self.scores(features)
        result[:, columns] = _softmax(scores) if kind == 0 else scores
        return result

    def predict(self, features: np.ndarray) -> np.ndarray:
        kind = int(self.arrays["kind"][0])
        if kind == 2:
            return self._svm(np.asarray(features, dtype=np.float64))
        scores = self.scores(features)
        classes = self.arrays.get("classes")
        best = scores.argmax(axis=1)
        return classes[best] if classes is not None else best

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class scores ``(N, C)`` (probabilities for logreg and mlp)."""
        a, features = self.arrays, np.asarray(features, dtype=np.float64)
        kind = int(a["kind"][0])
        if kind == 0:
            return features @ a["weights"] + a["offset"]
        if kind == 1:
            return _softmax(features @ a["weights"] + a["offset"])
        if kind == 3:
            hidden = np.maximum(features @ a["w1"] + a["b1"], 0.0)
            return _softmax(hidden @ a["w2"] + a["b2"])
        if kind == 4:
            depth = int(a["depth"][0])
            for number in range(depth):
                features = features @ a[f"w{number}"] + a[f"b{number}"]
                if number < depth - 1:
                    features = np.maximum(features, 0.0)
            return _softmax(features)
        raise ValueError("an SVM head gives votes, not scores: use predict")

    def _svm(self, features: np.ndarray) -> np.ndarray:
        # libsvm's one-vs-one decision: pair (i, j) uses class i's support vectors with
        # coefficients row j-1 and class j's with row i; positive -> vote for i.
        a = self.arrays
        support = a["support"]
        kernel = (features.astype(np.float32) @ support.astype(np.float32).T).astype(np.float64)
        if int(a["rbf"][0]):
            distance = (features**2).sum(1)[:, None] + (support**2).sum(1)[None] - 2 * kernel
            kernel = np.exp(-float(a["gamma"][0]) * np.maximum(distance, 0.0))
        counts = a["n_support"]
        starts = np.concatenate([[0], np.cumsum(counts)])
        classes = len(counts)
        votes = np.zeros((len(features), classes), dtype=np.int64)
        pair = 0
        for i in range(classes):
            for j in range(i + 1, classes):
                rows_i = slice(starts[i], starts[i + 1])
                rows_j = slice(starts[j], starts[j + 1])
                decision = (kernel[:, rows_i] @ a["dual_coef"][j - 1, rows_i]
                            + kernel[:, rows_j] @ a["dual_coef"][i, rows_j]
                            + a["intercept"][pair])  # fmt: skip
                votes[:, i] += decision > 0
                votes[:, j] += decision <= 0
                pair += 1
        return a["classes"][votes.argmax(axis=1)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
