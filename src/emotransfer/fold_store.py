"""A run's finished folds on disk: ``folds/<fold>.json`` and ``models/<fold>/head.safetensors``.

A fold result is saved with the digest of the inputs it was computed on (see
:mod:`emotransfer.run_inputs`) and read back only for the same digest and the same test rows;
a saved fold that is unreadable or malformed is logged and recomputed, never half-used.

Example:
    >>> import tempfile
    >>> from emotransfer.data.splits import Fold
    >>> from emotransfer.training.frozen import FoldResult
    >>> fold = Fold("speaker=a", np.array([1, 2]), np.array([0]))
    >>> path = Path(tempfile.mkdtemp()) / "speaker=a.json"
    >>> save_fold(path, "d1", FoldResult("speaker=a", fold.test, np.array([1]), None, {}, []))
    >>> load_fold(path, "d1", fold).predicted, load_fold(path, "other", fold)
    (array([1]), None)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from emotransfer.data.splits import Fold
from emotransfer.io import write_atomic, write_json
from emotransfer.training.frozen import FoldResult

log = logging.getLogger("emotransfer")


def save_fold(path: Path, digest: str, result: FoldResult) -> None:
    """Write one fold's predictions (atomically) with the digest they are valid for."""
    write_json(path, {"digest": digest, "test": result.test, "predicted": result.predicted,
                      "probabilities": result.probabilities, "best_params": result.best_params,
                      "inner_scores": result.inner_scores,
                      "dimensions": result.dimensions,
                      "temperature": result.temperature, "logits": result.logits})  # fmt: skip


def load_fold(path: Path, digest: str, fold: Fold) -> FoldResult | None:
    """The saved result of ``fold`` if it was computed on inputs of ``digest``, else ``None``."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("digest") != digest or data.get("test") != fold.test.tolist():
            return None
        predicted = np.asarray(data["predicted"], dtype=np.int64)
        probabilities = data["probabilities"]
        probabilities = None if probabilities is None else np.asarray(probabilities, float)
        dimensions = data.get("dimensions") or None
        if dimensions is not None:
            dimensions = {k: np.asarray(v, dtype=float) for k, v in dimensions.items()}
        if predicted.shape != fold.test.shape or (
            probabilities is not None and probabilities.shape[0] != len(fold.test)
        ):
            raise ValueError("its predictions do not match the fold's test rows")
        temperature = data.get("temperature")
        temperature = None if temperature is None else float(temperature)
        logits = data.get("logits")
        logits = None if logits is None else np.asarray(logits, dtype=np.float32)
        if logits is not None and (probabilities is None or logits.shape != probabilities.shape):
            raise ValueError("its logits do not match its probabilities")
        return FoldResult(fold.name, fold.test, predicted, probabilities, data["best_params"],
                          data["inner_scores"], dimensions=dimensions,
                          temperature=temperature, logits=logits)  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("saved fold %s is unreadable (%s); recomputing it", path, error)
        return None


def save_head(folder: Path, result: FoldResult) -> None:
    """The fold's standardiser and head as safetensors (read by the Predictor), atomically."""
    from safetensors.numpy import save_file

    from emotransfer.models.export import export_head

    try:
        exported = export_head(result.model)
    except ValueError as error:  # a head without an export: the run is still valid
        log.warning("fold model not saved for inference: %s", error)
        return
    if result.temperature is not None:
        exported["temperature"] = np.array([result.temperature])
    arrays = {f"head.{k}": np.ascontiguousarray(v) for k, v in exported.items()}
    arrays["scaler.mean"] = np.ascontiguousarray(result.scaler.mean_)
    arrays["scaler.scale"] = np.ascontiguousarray(result.scaler.scale_)
    write_atomic(folder / "head.safetensors", lambda temporary: save_file(arrays, str(temporary)))
