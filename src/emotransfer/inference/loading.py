"""A checked run folder -> fold scorers.

A run folder is untrusted input (people share them), so nothing read from it can import or
run code: every component ``model.json`` names must be a registered name or a
``module:Class`` the caller allows (``plugins``), ``trust_remote_code`` always comes from the
caller, and the folder is checked against the digests the run recorded (``files.json``, see
:mod:`emotransfer.run_files`) before anything is loaded.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emotransfer.define import is_audio_view
from emotransfer.encoders.upstream import UpstreamEncoder
from emotransfer.inference.scorers import FeatureScorer, ModelScorer
from emotransfer.io import RunFolderError, load_arrays, load_tensors
from emotransfer.model_spec import SPEC, FrozenSpec, TrainedSpec
from emotransfer.models.emotion_model import EmotionModel
from emotransfer.models.export import ExportedHead
from emotransfer.run_files import CALIBRATION, SPEAKER_STATS
from emotransfer.transfer.build import build_encoder, build_input_encoder, build_model


def trained_scorer(
    folder: Path, spec: TrainedSpec, *, plugins: Collection[str] = (), folds: bool = False
) -> ModelScorer:
    """A trained run's refit model (``refit/``: one model trained on all its clips), or with
    ``folds`` (or no refit model) every fold model; each built as ``model.json`` says, then
    its weights."""
    weights = sorted((folder / "models").glob("*/trainable.safetensors"))
    if not weights:
        raise FileNotFoundError(f"{folder}: no models/*/trainable.safetensors (run unfinished?)")
    refit = folder / "refit" / "trainable.safetensors"
    others: list[Path] = []
    if refit.is_file() and not folds:
        weights, others = [refit], weights
    source = folder / "source" / "encoder.safetensors"
    source_state = load_tensors(source) if spec.source else None
    shared = {}
    for modality in untrained_encoders(spec, weights):
        try:
            shared[modality] = (
                build_encoder(spec, plugins=plugins) if modality == "audio"
                else build_input_encoder(spec, modality, plugins=plugins))  # fmt: skip
        except ValueError as error:  # e.g. a rate the encoder does not take: model.json's
            raise RunFolderError(f"{folder / SPEC}: {error}") from error
    models = [fold_model(folder / SPEC, spec, source_state, path, plugins, shared=shared)
              for path in weights]  # fmt: skip
    # The fold models not served are checked too (names and shapes, from their headers): a
    # folder with a broken part is refused, as for a frozen run's heads.
    parameters = {name: tuple(p.shape) for name, p in
                  [*models[0].named_buffers(), *models[0].named_parameters()]}  # fmt: skip
    for path in others:
        for name, shape in weight_shapes(path, spec).items():
            if parameters.get(name) != shape:
                raise RunFolderError(f"{path}: {name} {shape} does not fit the model of "
                                     f"{folder / SPEC}")  # fmt: skip
    for model in models:  # served in inference form (re-parameterised bodies)
        if isinstance(model, EmotionModel):
            model.merge()
    given = [name for name in spec.inputs if not is_audio_view(name)]  # views read the audio
    return ModelScorer(models=models, classes=spec.classes, inputs=given,
                       temperature=run_temperature(folder / CALIBRATION),
                       dimensions=spec.dimensions)  # fmt: skip


def run_temperature(path: Path) -> float:
    """A trained run's temperature (``calibration.json``, fitted on its folds' held-out logits);
    1.0 (the softmax) for a run written before calibration.

    Raises:
        RunFolderError: the file is not a JSON object with a positive finite ``temperature``.
    """
    import json
    import math

    if not path.is_file():
        return 1.0
    try:
        temperature = json.loads(path.read_text())["temperature"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RunFolderError(f"{path}: not a calibration record ({error})") from error
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not math.isfinite(temperature) or temperature <= 0:  # fmt: skip
        raise RunFolderError(f'{path}: "temperature" must be a positive number, not '
                             f"{temperature!r}")  # fmt: skip
    return float(temperature)


def weight_shapes(path: Path, spec: TrainedSpec) -> dict[str, tuple[int, ...]]:
    """The model's name and shape of every weight in a safetensors file, read from its header.

    Raises:
        RunFolderError: the file is empty, truncated or not safetensors (named).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as handle:
            shapes = {n: tuple(handle.get_slice(n).get_shape()) for n in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as error:
        raise RunFolderError(f"{path}: not a readable safetensors file (empty, truncated or "
                             f"another format): {error}") from error  # fmt: skip
    names = spec.weight_names(list(shapes))
    return {names[name]: shape for name, shape in shapes.items()}


def untrained_encoders(spec: TrainedSpec, weights: list[Path]) -> list[str]:
    """The modalities whose encoder no fold changed (no fold saved a weight of it, as with a
    frozen strategy, or a frozen text encoder beside a fine-tuned audio one): every fold's
    encoder of that modality is the one the spec builds, so one instance serves them all."""
    modalities = ["audio", *spec.inputs]
    for path in weights:
        try:
            names = weight_shapes(path, spec)
        except RunFolderError:  # unreadable: fold_model names the file when it loads it
            return []
        modalities = [m for m in modalities
                      if not any(name.startswith(f"encoders.{m}.") for name in names)]  # fmt: skip
    return modalities


def fold_model(
    spec_path: Path, spec: TrainedSpec, source_state: dict[str, torch.Tensor] | None,
    path: Path, plugins: Collection[str], *, shared: dict[str, Any] | None = None,
) -> torch.nn.Module:  # fmt: skip
    """One fold's model: built as ``model.json`` says (on the ``shared`` encoders, per
    modality), then its trained weights."""
    try:
        model, _ = build_model(spec, source_state=source_state, plugins=plugins,
                               shared=shared)  # fmt: skip
    except ValueError as error:  # e.g. a layer the encoder does not have: model.json's
        raise RunFolderError(f"{spec_path}: {error}") from error
    # the trained weights, and the average training speaker a speaker-normalised model kept
    parameters = {**dict(model.named_buffers()), **dict(model.named_parameters())}
    saved = load_tensors(path)
    names = spec.weight_names(saved)
    state = {names[name]: value for name, value in saved.items()}
    unknown = [old for old, new in names.items() if new not in parameters]
    if unknown:
        raise RunFolderError(f"{path}: weights do not fit the model of {spec_path}: "
                             f"{unknown[:3]}")  # fmt: skip
    classifier = getattr(model, "classifier", None)  # the module whose outputs are classes
    for name in (n for n, p in parameters.items() if classifier is not None
                 and any(p is q for q in classifier.parameters())):  # fmt: skip
        if name in state and state[name].shape[0] != len(spec.classes):
            raise RunFolderError(
                f'{spec_path}: "classes" lists {len(spec.classes)} classes, but {path} has '
                f"{state[name].shape[0]} outputs: give one class name per output"
            )
    for name, value in state.items():
        if value.shape != parameters[name].shape:
            raise RunFolderError(f"{path}: {name} has shape {tuple(value.shape)}, the model of "
                                 f"{spec_path} {tuple(parameters[name].shape)}")  # fmt: skip
    with torch.no_grad():
        for name, value in state.items():
            parameters[name].copy_(value)
    return model.eval()


def frozen_scorer(
    folder: Path, spec: FrozenSpec, *, plugins: Collection[str] = (), folds: bool = False
) -> FeatureScorer:
    """The upstream ``spec`` describes (built once) and the run's refit head (``refit/``, one
    head fitted on all the run's rows), or with ``folds`` (or no refit head) the fold heads."""
    paths = sorted((folder / "models").glob("*/head.safetensors"))
    if not paths:
        raise FileNotFoundError(f"{folder}: no models/*/head.safetensors (run unfinished?)")
    refit = folder / "refit" / "head.safetensors"
    if refit.is_file():
        paths.append(refit)
    # Every head is checked, the ones not served too: a folder with a broken part is refused.
    heads = [fold_head(path) for path in paths]
    check_classes(folder / SPEC, spec.classes, paths, [head for *_, head in heads])
    if refit.is_file():
        heads = heads[:-1] if folds else heads[-1:]
    try:
        encoder = UpstreamEncoder(upstream=spec.upstream, params=spec.params,
                                  sample_rate=spec.sample_rate, plugins=plugins)  # fmt: skip
    except TypeError as error:
        raise RunFolderError(f'{folder / SPEC}: "params": {error}') from error
    return FeatureScorer(spec=spec, heads=heads, encoder=encoder, spec_path=folder / SPEC,
                         speaker_stats=speaker_statistics(folder, spec))  # fmt: skip


def speaker_statistics(folder: Path, spec: FrozenSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """The average training speaker's feature mean and scale of a per-speaker normalised run
    (``None`` for a run without them: an older one, or another normalisation), checked."""
    path = folder / SPEAKER_STATS
    if spec.normalization not in ("speaker", "corpus") or not path.is_file():
        return None
    arrays = load_arrays(path)
    return checked_statistics(path, arrays.get("mean"), arrays.get("scale"))


def checked_statistics(
    path: str | Path, mean: np.ndarray | None, scale: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A speaker's (or the average speaker's) saved ``mean`` and ``scale`` read from ``path``.

    Raises:
        RunFolderError: either missing, not one ``(L + 1, D)`` shape, or not finite (scale
            positive).
    """
    if mean is None or scale is None or mean.shape != scale.shape or mean.ndim != 2:
        raise RunFolderError(f"{path}: needs arrays mean and scale of one shape (L + 1, D)")
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise RunFolderError(f"{path}: mean must be finite, scale finite and positive")
    return mean, scale


def fold_head(path: Path) -> tuple[np.ndarray, np.ndarray, ExportedHead]:
    """A fold's standardiser and head from its ``head.safetensors``, checked."""
    arrays = load_arrays(path)
    try:
        mean, scale = arrays["scaler.mean"], arrays["scaler.scale"]
        head = ExportedHead({k[5:]: v for k, v in arrays.items() if k.startswith("head.")})
        head.check()
    except KeyError as error:
        raise RunFolderError(f"{path}: not a fold head: no array {error}") from error
    except (ValueError, IndexError) as error:
        raise RunFolderError(f"{path}: not a fold head: {error}") from error
    if mean.shape != scale.shape or mean.shape != head.input_shape():
        raise RunFolderError(f"{path}: scaler.mean {mean.shape}, scaler.scale {scale.shape} and "
                             f"the head's inputs {head.input_shape()} differ")  # fmt: skip
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise RunFolderError(f"{path}: scaler.scale must be finite and positive, and "
                             "scaler.mean finite (an edited scaler?)")  # fmt: skip
    return mean, scale, head


def check_classes(
    spec_path: Path, classes: list[str], paths: list[Path], heads: list[ExportedHead]
) -> None:
    """Each head's outputs are classes of the run, and together they cover every class (a
    fold may lack a class its training clips did not have)."""
    covered: set[int] = set()
    for path, head in zip(paths, heads):
        indices = head.class_indices()
        if len(set(indices.tolist())) != len(indices) or (
            len(indices) and not 0 <= indices.min() <= indices.max() < len(classes)
        ):
            raise RunFolderError(
                f'{spec_path}: "classes" lists {len(classes)} classes, but {path} has outputs '
                f"for class indices {indices.tolist()}: give one name per class of the run"
            )
        covered |= set(indices.tolist())
    if len(covered) != len(classes):
        raise RunFolderError(
            f'{spec_path}: "classes" lists {len(classes)} classes, but the fold heads have '
            f"outputs for {len(covered)} (class indices {sorted(covered)})"
        )
