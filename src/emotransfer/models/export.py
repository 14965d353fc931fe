"""Trained heads as plain arrays (safetensors), and numpy predictors rebuilt from them.

Frozen-feature runs save each fold's standardiser and head this way, so inference needs no
pickle and no scikit-learn object: ``export_head`` turns a fitted head into named arrays,
``ExportedHead`` predicts from them.

The arrays name their kind (a key of :data:`KINDS`) in ``kind_name``, the UTF-8 bytes of the
name as a uint8 array, so that the name survives any file of plain arrays. Files written
before kinds had names hold a number ``kind`` instead: :data:`LEGACY_KINDS` maps it to the
name. A new kind of head is one class in :mod:`emotransfer.models.export_kinds` and one line
in :data:`KINDS`.

Example:
    >>> from emotransfer.models.heads import RidgeHead
    >>> rng = np.random.default_rng(0)
    >>> features, labels = rng.normal(size=(30, 4)), np.arange(30) % 3
    >>> head = RidgeHead(alpha=1.0).fit(features, labels)
    >>> exported = ExportedHead(export_head(head))
    >>> bool((exported.predict(features) == head.predict(features)).all()), exported.kind()
    (True, 'ridge')
"""

from __future__ import annotations

import numpy as np

from emotransfer.models.export_kinds import (
    HeadArrays,
    LayerSumArrays,
    LogRegArrays,
    RidgeArrays,
    SVMArrays,
)
from emotransfer.models.export_networks import MLPArrays, ReluStackArrays
from emotransfer.models.heads import Head

# Tried in this order by export_head: the first kind that knows the head exports it.
KINDS: dict[str, type[HeadArrays]] = {
    "ridge": RidgeArrays,
    "logreg": LogRegArrays,
    "svm": SVMArrays,
    "mlp": MLPArrays,
    "relu_stack": ReluStackArrays,  # DANN, multitask
    "layer_sum": LayerSumArrays,  # the weighted-sum probe: (N, L + 1, D) features
}
KIND_KEY = "kind_name"
# The number in the "kind" array of files written before kinds had names.
LEGACY_KIND_KEY = "kind"
LEGACY_KINDS = ("ridge", "logreg", "svm", "mlp", "relu_stack")


def export_head(head: Head) -> dict[str, np.ndarray]:
    """Named arrays that determine the head's predictions (``kind_name`` says how to use them).

    Raises:
        ValueError: no kind of :data:`KINDS` exports this head.
    """
    if isinstance(head, Head):
        head = head.served()
    for name, kind in KINDS.items():
        arrays = kind.export(head)
        if arrays is not None:
            return {KIND_KEY: encode_kind(name), **arrays}
    raise ValueError(f"cannot export a {type(head).__name__}: export supports ridge, logreg, "
                     "svm, mlp, dann, multitask and layer_sum heads (and gan around svm or "
                     "logreg)")  # fmt: skip


def encode_kind(name: str) -> np.ndarray:
    """``name`` as the uint8 array of its UTF-8 bytes (the ``kind_name`` array).

    Example:
        >>> encode_kind("svm").tolist()
        [115, 118, 109]
    """
    return np.array(list(name.encode("utf-8")), dtype=np.uint8)


def kind_of(arrays: dict[str, np.ndarray]) -> str:
    """The kind of an export: its ``kind_name``, else the name of a legacy ``kind`` number.

    Raises:
        ValueError: neither names a kind of :data:`KINDS`.

    Example:
        >>> kind_of({"kind_name": encode_kind("mlp")}), kind_of({"kind": np.array([2])})
        ('mlp', 'svm')
    """
    name = None
    if KIND_KEY in arrays:
        code = np.asarray(arrays[KIND_KEY])
        if code.dtype == np.uint8 and code.ndim == 1:
            name = code.tobytes().decode("utf-8", errors="replace")
    elif LEGACY_KIND_KEY in arrays and np.asarray(arrays[LEGACY_KIND_KEY]).size == 1:
        number = int(np.asarray(arrays[LEGACY_KIND_KEY]).reshape(-1)[0])
        name = LEGACY_KINDS[number] if 0 <= number < len(LEGACY_KINDS) else None
    if name not in KINDS:
        raise ValueError(
            f"'{KIND_KEY}' must be one of {sorted(KINDS)} (or, in a file written before kinds "
            f"had names, '{LEGACY_KIND_KEY}' one of {list(range(len(LEGACY_KINDS)))})"
        )
    return name


class ExportedHead:
    """Predictions from :func:`export_head` arrays, in numpy.

    A fold whose training clips lacked a class has no output for it: :meth:`class_indices`
    says which of the run's classes its outputs are, :meth:`class_probabilities` places them
    in the run's columns.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def kind(self) -> str:
        """The name of the head's kind (a key of :data:`KINDS`)."""
        return kind_of(self.arrays)

    def check(self) -> ExportedHead:
        """Refuse arrays that are not a complete export (e.g. read from an edited file).

        Raises:
            ValueError: an unknown kind, a missing array or inconsistent sizes (named).
        """
        head = self._head()
        missing = [name for name in head.needed() if name not in self.arrays]
        if missing:
            raise ValueError(f"a {self.kind()} head needs the arrays {missing}")
        outputs = head.output_count()
        if len(self.class_indices()) != outputs:
            raise ValueError(f"{len(self.class_indices())} classes but {outputs} outputs")
        if "temperature" in self.arrays:
            temperature = np.asarray(self.arrays["temperature"], dtype=np.float64)
            if temperature.size != 1 or not np.isfinite(temperature).all() or temperature <= 0:
                raise ValueError("'temperature' must be one finite positive number")
        return self

    def input_size(self) -> int:
        """Number of features the head takes (per hidden state, for a head that mixes them)."""
        return self._head().input_size()

    def input_shape(self) -> tuple[int, ...]:
        """One example's feature shape: ``(D,)``, or ``(L + 1, D)`` for a head that mixes
        hidden states."""
        return self._head().input_shape()

    def class_indices(self) -> np.ndarray:
        """The run's class index of each output (of :meth:`scores`; of the votes of an SVM):
        the exported ``classes``, else ``0 .. C - 1``."""
        if "classes" in self.arrays:
            return self.arrays["classes"].astype(np.int64)
        return np.arange(len(self.arrays[self._head().bias()]))

    def class_probabilities(self, features: np.ndarray, num_classes: int) -> np.ndarray:
        """``(N, num_classes)`` in the run's class columns: probabilities (calibrated where the
        export holds a ``temperature``; else ridge scores through a softmax, or for an SVM one
        vote); a class the fold never saw gets 0."""
        features = np.asarray(features, dtype=np.float64)
        result = np.zeros((len(features), num_classes))
        result[:, self.class_indices()] = self._head().probabilities(features)
        return result

    def class_logits(self, features: np.ndarray, num_classes: int) -> np.ndarray:
        """Logits ``(N, num_classes)`` in the run's class columns (before any temperature); a
        class the fold never saw gets ``-inf``."""
        features = np.asarray(features, dtype=np.float64)
        result = np.full((len(features), num_classes), -np.inf)
        result[:, self.class_indices()] = self._head().logits(features)
        return result

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The run's class index per example."""
        best = self._head().best_output(np.asarray(features, dtype=np.float64))
        classes = self.arrays.get("classes")
        return classes[best] if classes is not None else best

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Class scores ``(N, C)`` (probabilities for logreg and mlp).

        Raises:
            ValueError: an SVM head, which gives votes, not scores.
        """
        return self._head().scores(np.asarray(features, dtype=np.float64))

    def value_names(self) -> list[str]:
        """The dimensions the head also predicts (a multitask head's), else none."""
        return self._head().value_names()

    def values(self, features: np.ndarray) -> np.ndarray:
        """Dimensional predictions ``(N, K)`` in :meth:`value_names` order."""
        return self._head().values(np.asarray(features, dtype=np.float64))

    def _head(self) -> HeadArrays:
        return KINDS[self.kind()](self.arrays)
