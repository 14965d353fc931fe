"""A fresh trainable model from a :class:`~emotransfer.model_spec.TrainedSpec`: the encoder and
architecture it names (registry tables ``encoder`` and ``model``), a two-stage run's stage-1
encoder weights, then the strategy (which may add adapters on top of them).

Used by training (every fold starts here) and by inference (every fold is rebuilt here before
its trained weights load), so both build the same model from the same description.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection
from typing import Any

import torch

from emotransfer import registry
from emotransfer.define import is_audio_view
from emotransfer.model_spec import TrainedSpec


def build_encoder(spec: TrainedSpec, *, plugins: Collection[str] = ()) -> Any:
    """The spec's audio encoder, with the caller's ``trust_remote_code`` and ``plugins``, at
    the spec's sample rate (given to an encoder that takes one).

    Raises:
        ValueError: the encoder computes on another rate than the audio is decoded at (a
            log-mel filterbank made for 16 kHz fed 8 kHz audio, say).
    """
    encoder = _construct(spec.encoder, spec.encoder_params, spec, plugins, "encoder",
                         sample_rate=spec.sample_rate)  # fmt: skip
    _check_rate(encoder, spec, spec.encoder)
    return encoder


def build_input_encoder(
    spec: TrainedSpec, modality: str, *, plugins: Collection[str] = ()
) -> Any:  # fmt: skip
    """The encoder of the spec's ``modality`` input (text ...; an audio view's at the spec's
    sample rate), with the caller's ``trust_remote_code`` and ``plugins``.

    Raises:
        ValueError: the encoder takes items of another modality (an audio view's must take
            audio), or an audio view's encoder computes on another rate.
    """
    entry = spec.inputs[modality]
    view = is_audio_view(modality)
    defaults = {"sample_rate": spec.sample_rate} if view else {}
    encoder = _construct(entry["encoder"], entry["params"], spec, plugins,
                         f"the {modality} encoder", **defaults)  # fmt: skip
    takes = getattr(encoder, "modality", None)
    wanted = "audio" if view else modality
    if takes != wanted:
        raise ValueError(f"inputs.{modality}: encoder {entry['encoder']!r} takes {takes} "
                         f"items, not {wanted}")  # fmt: skip
    if view:
        _check_rate(encoder, spec, entry["encoder"])
    return encoder


def _check_rate(encoder: Any, spec: TrainedSpec, name: str) -> None:
    rate = getattr(encoder, "sample_rate", None)
    if rate is not None and rate != spec.sample_rate:
        raise ValueError(
            f"the audio is decoded at {spec.sample_rate} Hz (data.audio.sample_rate), but "
            f"encoder {name!r} computes on {rate} Hz audio: make them equal "
            f"(data.audio.sample_rate={rate}, or the encoder's sample_rate parameter)"
        )


def _construct(
    name: str, params: dict[str, Any], spec: TrainedSpec, plugins: Collection[str], what: str,
    **defaults: Any,
) -> Any:  # fmt: skip
    """The registered encoder ``name`` with ``params``, the caller's ``trust_remote_code`` and
    ``plugins`` where it takes them, and ``defaults`` where it takes them and ``params`` does
    not say.

    Raises:
        TypeError: bad parameters (names ``what`` and ``name``).
    """
    cls = registry.resolve("encoder", name, plugins=plugins)
    params = dict(params)
    accepted = inspect.signature(cls).parameters
    if "trust_remote_code" in accepted:
        params["trust_remote_code"] = spec.trust_remote_code
    if "plugins" in accepted:
        params["plugins"] = plugins
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    for key, value in defaults.items():
        if key in accepted or takes_any:
            params.setdefault(key, value)
    try:
        return cls(**params)
    except TypeError as error:
        raise TypeError(f"bad parameters for {what} {name!r}: {error}") from error


def build_model(
    spec: TrainedSpec,
    *,
    num_classes: int | None = None,
    source_state: dict[str, torch.Tensor] | None = None,
    strategy: str | None = None,
    strategy_params: dict[str, Any] | None = None,
    plugins: Collection[str] = (),
    shared: dict[str, Any] | None = None,
) -> tuple[torch.nn.Module, list[dict[str, Any]]]:
    """The model and its strategy's parameter groups.

    ``num_classes`` (default: the spec's classes), ``strategy`` and ``strategy_params``
    (default: the spec's) let stage 1 of two-stage transfer build its own task. ``plugins``:
    the ``module:Class`` components the caller allows (never read from the spec).
    ``shared``: per modality, an encoder already built from this spec, to share (inference
    of fold models whose training left that encoder as it was).
    """
    shared = shared or {}
    encoder = shared.get("audio") or build_encoder(spec, plugins=plugins)
    encoders = {"audio": encoder}
    for modality in spec.inputs:
        encoders[modality] = shared.get(modality) or build_input_encoder(
            spec, modality, plugins=plugins
        )
    architecture = registry.resolve("model", spec.architecture, plugins=plugins)
    # a dimensional head only where the spec asks (an architecture may not take the argument)
    values = {"dimensions": len(spec.dimensions)} if spec.dimensions else {}
    model = architecture(
        **spec.architecture_params, encoders=encoders,
        num_classes=len(spec.classes) if num_classes is None else num_classes,
        layer=spec.layer, fusion=spec.fusion, speaker_norm=spec.speaker_norm, plugins=plugins,
        **values,
    )  # fmt: skip
    if source_state is not None:
        _, unexpected = encoder.load_state_dict(source_state, strict=False)
        if unexpected:
            raise ValueError(f"stage-1 encoder state does not fit: {unexpected[:3]}")
    name = spec.strategy if strategy is None else strategy
    params = spec.strategy_params if strategy_params is None else strategy_params
    chosen = registry.build("strategy", name, plugins=plugins, **params)
    return model, chosen.apply(model)
