"""``emotransfer export RUN --format onnx``: a run's servable model as an ONNX file with a
dynamic time axis, checked against PyTorch, and an onnxruntime scorer for the Predictor.

:func:`export_onnx` writes ``model.onnx`` and ``onnx.json`` (classes, the graph's inputs and
outputs, the encoder that prepares them, the run's model files' digests it was made from, the
largest probability difference to PyTorch measured on clips of other lengths than the traced
one, versions) into ``RUN/onnx/`` or ``out``. :class:`OnnxScorer` runs it: the encoder's
``prepare`` in Python (see :mod:`emotransfer.inference.onnx_graph`), the network in
onnxruntime, clip by clip, so every clip's probabilities are its own.

Usage::

    export_onnx("runs/emodb_probe")                       # runs/emodb_probe/onnx/model.onnx
    Predictor.from_run("runs/emodb_probe", backend="onnx").predict_file("clip.wav")
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emotransfer.io import RunFolderError, write_atomic, write_json
from emotransfer.model_spec import FrozenSpec, read_model_spec
from emotransfer.run_files import file_digest, verify_model_files

ONNX_FOLDER = "onnx"
MODEL = "model.onnx"
DESCRIPTION = "onnx.json"
TOLERANCE = 1e-4  # largest probability difference to PyTorch accepted at export
TRACE_SECONDS = 1.0
CHECK_SECONDS = (0.6, 2.3)  # parity clips, of other lengths than the traced one


def export_onnx(
    run_dir: str | Path, out: str | Path | None = None, *, folds: bool = False,
    plugins: Collection[str] = (), trust_remote_code: bool = False, opset: int = 18,
) -> dict[str, Any]:  # fmt: skip
    """Export the run's servable model (its refit model, or with ``folds`` the fold
    ensemble) and return what ``onnx.json`` records.

    Raises:
        RunFolderError: a model the graph cannot serve clip by clip (it says why).
        ValueError: an encoder that cannot be exported (LEAF, Whisper on padded input), or a
            graph whose onnxruntime probabilities differ from PyTorch's by more than
            ``TOLERANCE``.
    """
    from emotransfer.inference.loading import frozen_scorer, trained_scorer
    from emotransfer.inference.onnx_graph import DIMENSIONS, PROBABILITIES, graph_of

    folder = Path(run_dir)
    verify_model_files(folder)
    spec = read_model_spec(folder, plugins=plugins, trust_remote_code=trust_remote_code)
    served = frozen_scorer if isinstance(spec, FrozenSpec) else trained_scorer
    scorer = served(folder, spec, plugins=plugins, folds=folds)  # what the Predictor serves
    encoder = export_encoder(spec, plugins=plugins, trust_remote_code=trust_remote_code)
    rate = spec.audio["sample_rate"]
    example = encoder.export_inputs(_clip(TRACE_SECONDS, rate, 0))
    names = sorted(example)
    graph = graph_of(scorer, spec, encoder, names).eval()
    outputs = [PROBABILITIES] + ([DIMENSIONS] if getattr(graph, "dimensions", False) else [])
    target = Path(out) if out is not None else folder / ONNX_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as staging:
        staged = Path(staging) / MODEL
        dynamic = export_graph(graph, encoder, staged, outputs=outputs, rate=rate, opset=opset,
                               example=example)  # fmt: skip
        session = onnx_session(staged)
        difference = max(_difference(graph, session, encoder, names, _clip(s, rate, 2 + i))
                         for i, s in enumerate(CHECK_SECONDS))  # fmt: skip
        if difference > TOLERANCE:
            raise ValueError(f"the ONNX graph's probabilities differ from PyTorch's by "
                             f"{difference:.2e} (> {TOLERANCE}): not exported")  # fmt: skip
        write_atomic(target / MODEL, lambda path: Path(path).write_bytes(staged.read_bytes()))
    description = {
        "format": 1, "run": str(folder), "classes": list(spec.classes),
        "inputs": {n: list(example[n].shape) for n in names},
        "dynamic_axes": dynamic, "outputs": outputs,
        "sample_rate": rate, "folds": folds, "opset": opset,
        "max_abs_difference": difference, "model_sha256": file_digest(target / MODEL),
        "run_files": json.loads((folder / "files.json").read_text())
        if (folder / "files.json").is_file() else None,
        "versions": _versions(),
    }  # fmt: skip
    write_json(target / DESCRIPTION, description)
    return description


def export_graph(
    graph: torch.nn.Module, encoder: Any, path: Path, *, outputs: list[str], rate: int,
    opset: int = 18, example: dict[str, torch.Tensor] | None = None,
) -> dict[str, list[int]]:  # fmt: skip
    """Trace ``graph`` (taking ``encoder.export_inputs`` of a clip, inputs in name order) into
    the ONNX file ``path``; an input axis whose size changes with the clip's length is
    dynamic. ``example``: the traced clip's inputs, if the caller made them. Returns the
    dynamic axes per input."""
    if example is None:
        example = encoder.export_inputs(_clip(TRACE_SECONDS, rate, 0))
    longer = encoder.export_inputs(_clip(TRACE_SECONDS * 1.7, rate, 1))
    names = sorted(example)
    dynamic = {n: [axis for axis, size in enumerate(example[n].shape)
                   if longer[n].shape[axis] != size] for n in names}  # fmt: skip
    shapes = tuple({axis: torch.export.Dim.AUTO for axis in dynamic[n]} for n in names)
    with torch.no_grad():
        torch.onnx.export(graph.eval(), tuple(example[n] for n in names), str(path), dynamo=True,
                          input_names=names, output_names=outputs, opset_version=opset,
                          dynamic_shapes=(shapes,), external_data=False,
                          verbose=False)  # fmt: skip
    return dynamic


def export_encoder(spec: Any, *, plugins: Collection[str] = (),
                   trust_remote_code: bool = False) -> Any:  # fmt: skip
    """The encoder that prepares the graph's inputs (and, for a frozen run, computes in it)."""
    from emotransfer.inference.onnx_graph import frozen_encoder
    from emotransfer.transfer.build import build_encoder

    if isinstance(spec, FrozenSpec):
        return frozen_encoder(spec, trust_remote_code=trust_remote_code)
    return build_encoder(spec, plugins=plugins).eval()


class OnnxScorer:
    """An exported graph in onnxruntime: ``scores(waves) -> (N, C)``, clip by clip.

    Args:
        session: the onnxruntime session of ``model.onnx``.
        encoder: prepares each clip's inputs (``export_inputs``).
        classes: the run's classes (the graph's output columns).
    """

    speaker_norm = False  # the graph standardises a clip on its own (the average speaker)
    inputs: tuple[str, ...] = ()

    def __init__(self, *, session: Any, encoder: Any, classes: list[str]) -> None:
        self.session = session
        self.encoder = encoder
        self.classes = classes
        self.names = [node.name for node in session.get_inputs()]

    def scores(
        self, waves: list[np.ndarray], inputs: dict[str, list] | None = None,
        speakers: np.ndarray | None = None, enrolled: Any = None,
    ) -> np.ndarray:  # fmt: skip
        if inputs or enrolled is not None:
            raise ValueError("an exported ONNX model takes audio alone, each clip standardised "
                             "with the training speakers' average: use the PyTorch path for "
                             "other inputs or enrolled speakers")  # fmt: skip
        rows = []
        for wave in waves:
            prepared = self.encoder.export_inputs(np.asarray(wave, dtype=np.float32))
            feed = {name: prepared[name].numpy() for name in self.names}
            rows.append(self.session.run(None, feed)[0][0])
        return np.asarray(rows, dtype=np.float64).reshape(len(waves), len(self.classes))


def onnx_scorer(
    folder: Path, spec: Any, *, plugins: Collection[str] = (), trust_remote_code: bool = False
) -> OnnxScorer:  # fmt: skip
    """The scorer of ``folder/onnx/`` (written by :func:`export_onnx`), checked: its model file
    is the one exported (digest), for this run's classes and model files.

    Raises:
        FileNotFoundError: the run was not exported.
        RunFolderError: the export does not match the run or its own record.
    """
    target = folder / ONNX_FOLDER
    if not (target / DESCRIPTION).is_file():
        raise FileNotFoundError(f"{folder}: no {ONNX_FOLDER}/{DESCRIPTION}: run emotransfer "
                                f"export {folder} --format onnx first")  # fmt: skip
    verify_model_files(folder)
    try:
        description = json.loads((target / DESCRIPTION).read_text())
        digest, classes = description["model_sha256"], description["classes"]
    except (ValueError, KeyError, TypeError) as error:
        raise RunFolderError(f"{target / DESCRIPTION}: not an export record ({error})") from error
    if file_digest(target / MODEL) != digest:
        raise RunFolderError(f"{target / MODEL}: changed since it was exported (digest)")
    if classes != list(spec.classes):
        raise RunFolderError(f"{target / DESCRIPTION}: classes {classes} are not the run's "
                             f"{spec.classes}")  # fmt: skip
    recorded = description.get("run_files")
    current = folder / "files.json"
    if recorded is not None and current.is_file() and json.loads(current.read_text()) != recorded:
        raise RunFolderError(f"{target}: exported from other model files than the run's now: "
                             "export it again")  # fmt: skip
    encoder = export_encoder(spec, plugins=plugins, trust_remote_code=trust_remote_code)
    return OnnxScorer(session=onnx_session(target / MODEL), encoder=encoder, classes=classes)


def onnx_session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session of ``path`` (``threads``: intra-op threads; default all)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _clip(seconds: float, rate: int, seed: int) -> np.ndarray:
    """A generated clip: a tone with noise (speech-like scale), float32."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * rate)) / rate
    tone = 0.1 * np.sin(2 * np.pi * (150 + 50 * seed) * time)
    return (tone + rng.normal(0, 0.02, len(time))).astype(np.float32)


def _difference(graph: Any, session: Any, encoder: Any, names: list[str],
                wave: np.ndarray) -> float:  # fmt: skip
    prepared = encoder.export_inputs(wave)
    with torch.no_grad():
        expected = graph(*(prepared[n] for n in names))
    expected = expected[0] if isinstance(expected, tuple) else expected
    found = session.run(None, {n: prepared[n].numpy() for n in names})[0]
    return float(np.abs(found - expected.numpy()).max())


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}  # fmt: skip
