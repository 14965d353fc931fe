"""The kinds of exported head: one class each, turning a fitted head into arrays and back.

A kind's :meth:`~HeadArrays.export` gives the named arrays of a fitted head it knows (``None``
for any other head); an instance wraps arrays read back and predicts from them in numpy. The
table :data:`emotransfer.models.export.KINDS` names them; a new kind is one class here (or,
for the small networks, in :mod:`emotransfer.models.export_networks`) and one line there.

Every kind gives ``logits``: class scores whose softmax is its probability. An export may hold a
``temperature`` (one positive number, fitted on inner folds by
:func:`emotransfer.models.calibration.fit_temperature`): its probabilities are then
``softmax(logits / temperature)``. Without one (files written before calibration) a kind gives
what it gave then: the softmax of its logits, or for an SVM one vote. ``torch_logits`` is the
same computation on float32 tensors, which an exported graph (ONNX) traces.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from emotransfer.models.heads import LogisticRegressionHead, RidgeHead, SVMHead


class HeadArrays:
    """Arrays of one kind of head, and predictions from them (``(N, D)`` float64 features).

    Outputs are in the order of the exported ``classes`` where the kind stores them (the run's
    class indices), else ``0 .. C - 1``.
    """

    required: ClassVar[tuple[str, ...]] = ()  # array names a complete export holds

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        """The arrays that determine ``head``'s predictions, or ``None``: not this kind."""
        raise NotImplementedError

    def needed(self) -> list[str]:
        """The arrays a complete export of this kind holds (some kinds: given their sizes)."""
        return list(self.required)

    def input_size(self) -> int:
        """Number of features the head takes."""
        raise NotImplementedError

    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example's features: ``(D,)``, or ``(L + 1, D)`` for a head that
        mixes hidden states."""
        return (self.input_size(),)

    def output_count(self) -> int:
        """Number of outputs (one per class the head was trained on)."""
        return self.logits(np.zeros((1, *self.input_shape()))).shape[1]

    def bias(self) -> str:
        """The array with one value per output: without ``classes``, its length is the class
        count."""
        raise NotImplementedError

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class scores ``(N, C)``: the softmax of the logits, unless a kind says otherwise."""
        return softmax(self.logits(features))

    def value_names(self) -> list[str]:
        """The dimensions a kind also predicts (arousal, valence ...); none by default."""
        return []

    def values(self, features: np.ndarray) -> np.ndarray:
        """Dimensional predictions ``(N, K)`` in :meth:`value_names` order."""
        return np.zeros((len(features), 0))

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Class logits ``(N, C)``: their softmax is the head's probability."""
        raise NotImplementedError

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)``: ``softmax(logits / temperature)``, or without a
        ``temperature`` what files written before calibration gave."""
        if "temperature" not in self.arrays:
            return self.uncalibrated(features)
        return softmax(self.logits(features) / self.temperature())

    def temperature(self) -> float:
        """The exported ``temperature`` (there must be one)."""
        return float(self.arrays["temperature"].reshape(-1)[0])

    def uncalibrated(self, features: np.ndarray) -> np.ndarray:
        """The probabilities of an export without a temperature: the softmax of the logits."""
        return softmax(self.logits(features))

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`logits` on float32 tensors."""
        raise NotImplementedError

    def torch_probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`probabilities` on float32 tensors."""
        if "temperature" not in self.arrays:
            return torch.softmax(self.torch_logits(features), dim=1)
        return torch.softmax(self.torch_logits(features) / self.temperature(), dim=1)

    def tensor(self, name: str) -> torch.Tensor:
        """The array ``name`` as a float32 tensor."""
        return torch.as_tensor(np.asarray(self.arrays[name], dtype=np.float32))

    def best_output(self, features: np.ndarray) -> np.ndarray:
        """Index of the winning output per example."""
        return self.scores(features).argmax(axis=1)


class RidgeArrays(HeadArrays):
    """A ridge classifier: linear scores, turned into probabilities by a softmax."""

    required = ("weights", "offset")

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        if not isinstance(head, RidgeHead):
            return None
        return {"weights": head.weights_, "offset": head.offset_}

    def bias(self) -> str:
        return "offset"

    def input_size(self) -> int:
        return int(self.arrays["weights"].shape[0])

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.arrays["weights"] + self.arrays["offset"]

    def logits(self, features: np.ndarray) -> np.ndarray:
        return self.scores(features)

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.tensor("weights") + self.tensor("offset")


class LogRegArrays(HeadArrays):
    """A logistic regression: softmax of linear scores, one output per class it saw."""

    required = ("weights", "offset", "classes")

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        if not isinstance(head, LogisticRegressionHead):
            return None
        model = head.model_
        weights, offset = model.coef_.T, model.intercept_
        if len(model.classes_) == 2 and weights.shape[1] == 1:
            # scikit-learn keeps one score z for two classes: p(second) = sigmoid(z), which
            # is the softmax of the logits [0, z]
            weights = np.concatenate([np.zeros_like(weights), weights], axis=1)
            offset = np.concatenate([np.zeros_like(offset), offset])
        return {"weights": weights, "offset": offset,
                "classes": model.classes_.astype(np.int64)}  # fmt: skip

    def bias(self) -> str:
        return "offset"

    def input_size(self) -> int:
        return int(self.arrays["weights"].shape[0])

    def logits(self, features: np.ndarray) -> np.ndarray:
        return features @ self.arrays["weights"] + self.arrays["offset"]

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.tensor("weights") + self.tensor("offset")


class SVMArrays(HeadArrays):
    """A linear or RBF SVM (libsvm one-vs-one): votes, no scores. Its logits are the votes plus
    a confidence below one half (scikit-learn's one-vs-rest decision function), so only a
    calibrated export has probabilities other than one vote."""

    required = ("support", "dual_coef", "intercept", "n_support", "classes", "gamma", "rbf")

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        if not isinstance(head, SVMHead):
            return None
        svc = head.svc_
        return {"support": head.support_features_[svc.support_],
                "dual_coef": svc.dual_coef_, "intercept": svc.intercept_,
                "n_support": svc.n_support_.astype(np.int64),
                "classes": svc.classes_.astype(np.int64),
                "gamma": np.array([head.gamma_ if head.kernel == "rbf" else 0.0]),
                "rbf": np.array([int(head.kernel == "rbf")])}  # fmt: skip

    def bias(self) -> str:
        return "n_support"

    def input_size(self) -> int:
        return int(self.arrays["support"].shape[1])

    def output_count(self) -> int:
        return len(self.arrays["n_support"])

    def scores(self, features: np.ndarray) -> np.ndarray:
        raise ValueError("an SVM head gives votes, not scores: use predict")

    def uncalibrated(self, features: np.ndarray) -> np.ndarray:
        result = np.zeros((len(features), self.output_count()))
        result[np.arange(len(features)), self.best_output(features)] = 1.0
        return result

    def logits(self, features: np.ndarray) -> np.ndarray:
        votes, confidence = self._pairwise(features)
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def best_output(self, features: np.ndarray) -> np.ndarray:
        return self._pairwise(features)[0].argmax(axis=1)

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        votes, confidence = self._pairwise(features, torch)
        return votes + confidence / (3 * (confidence.abs() + 1))

    def torch_probabilities(self, features: torch.Tensor) -> torch.Tensor:
        if "temperature" in self.arrays:
            return super().torch_probabilities(features)
        votes = self._pairwise(features, torch)[0]
        return torch.nn.functional.one_hot(votes.argmax(dim=1), votes.shape[1]).float()

    def _pairwise(self, features: Any, xp: Any = np) -> tuple[Any, Any]:
        """Votes ``(N, C)`` of the one-vs-one decisions, and each class's summed margins; in
        numpy (float64), or with ``xp=torch`` on float32 tensors."""
        # libsvm's one-vs-one decision: pair (i, j) uses class i's support vectors with
        # coefficients row j-1 and class j's with row i; positive -> vote for i.
        a = self.arrays
        numpy = xp is np
        support, coef, intercept = (a[n] if numpy else self.tensor(n)
                                    for n in ("support", "dual_coef", "intercept"))  # fmt: skip
        if numpy:
            kernel = (features.astype(np.float32) @ support.astype(np.float32).T).astype(float)
        else:
            kernel = features @ support.T
        if int(a["rbf"][0]):
            distance = (features**2).sum(1)[:, None] + (support**2).sum(1)[None] - 2 * kernel
            kernel = xp.exp(-float(a["gamma"][0]) * xp.clip(distance, 0.0, None))
        counts = a["n_support"]
        starts = np.concatenate([[0], np.cumsum(counts)])
        votes, margins = [0.0] * len(counts), [0.0] * len(counts)
        pair = 0
        for i in range(len(counts)):
            for j in range(i + 1, len(counts)):
                rows_i = slice(starts[i], starts[i + 1])
                rows_j = slice(starts[j], starts[j + 1])
                decision = (kernel[:, rows_i] @ coef[j - 1, rows_i]
                            + kernel[:, rows_j] @ coef[i, rows_j] + intercept[pair])  # fmt: skip
                win = decision > 0
                votes[i] = votes[i] + (win * 1.0)
                votes[j] = votes[j] + (~win * 1.0)
                margins[i] = margins[i] + decision
                margins[j] = margins[j] - decision
                pair += 1
        rows = len(features)
        columns = [[xp.zeros(rows) + v for v in values] for values in (votes, margins)]
        if numpy:
            return np.stack(columns[0], axis=1), np.stack(columns[1], axis=1)
        return torch.stack(columns[0], dim=1), torch.stack(columns[1], dim=1)


class LayerSumArrays(HeadArrays):
    """Every hidden state mixed by learned softmax weights, then a linear layer and a softmax:
    the weighted-sum probe (:class:`~emotransfer.models.layers.LayerSumHead`). Its features
    are ``(N, L + 1, D)``."""

    required = ("mix", "weights", "offset")

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        from emotransfer.models.layers import LayerSumHead

        if not isinstance(head, LayerSumHead):
            return None
        return {"mix": head.layer_sum_.weights().astype(np.float64),
                "weights": head.linear_.weight.detach().numpy().T.astype(np.float64),
                "offset": head.linear_.bias.detach().numpy().astype(np.float64)}  # fmt: skip

    def bias(self) -> str:
        return "offset"

    def input_size(self) -> int:
        return int(self.arrays["weights"].shape[0])

    def input_shape(self) -> tuple[int, ...]:
        return (len(self.arrays["mix"]), self.input_size())

    def logits(self, features: np.ndarray) -> np.ndarray:
        mixed = np.einsum("nld,l->nd", features, self.arrays["mix"])
        return mixed @ self.arrays["weights"] + self.arrays["offset"]

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        mixed = torch.einsum("nld,l->nd", features, self.tensor("mix"))
        return mixed @ self.tensor("weights") + self.tensor("offset")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, C)`` logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
