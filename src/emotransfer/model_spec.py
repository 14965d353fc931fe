"""``model.json``: one typed :class:`ModelSpec` per run, written by the run and read back as
data (every key checked, every component name registered or allowed) by inference.

Two kinds: :class:`FrozenSpec` (a frozen upstream's pooled layer and fold heads) and
:class:`TrainedSpec` (an :class:`~emotransfer.models.emotion_model.EmotionModel`: encoder,
architecture, fusion, strategy, and each fold's trained weights). ``format`` 2 names the encoder
and its parameters; a format-1 file (written before the model contract: ``model`` and
``whisper_input`` keys, weights named ``backbone.*`` and ``layer_sum.*``) still loads, read as
the ``hf`` encoder with those parameters. A frozen run's file says ``format: 2`` too (one
without the key is format 1), and both kinds record the number of fold models the run plans
(``folds``): the format decides what the folder must hold (see :mod:`emotransfer.run_files`).

A run folder is untrusted input, so its model description is validated before anything is
built from it: types and vocabularies per key, component names (``upstream``, ``strategy``)
that are registered or listed in the caller's ``plugins``, and the caller's
``trust_remote_code`` in place of whatever the file says.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from emotransfer import registry
from emotransfer.define import Dimension, Normalization, Pooling
from emotransfer.io import RunFolderError

SPEC = "model.json"
# Limits of runs whose model.json predates its "audio" entry (the config's defaults).
AUDIO_DEFAULTS = {"min_duration": 0.1, "max_duration": 600.0}
# model.json keys that name a component, and its registry kind, per kind of run.
COMPONENTS = {"frozen": {"upstream": "upstream"},
              "finetune": {"strategy": "strategy", "source_strategy": "strategy",
                           "encoder": "encoder", "architecture": "model",
                           "fusion": "fusion"}}  # fmt: skip
# Parts of the architecture named inside "architecture_params", and their registry kind.
ARCHITECTURE_PARTS = {"body": "body", "pooling": "pooling"}
FORMAT = 2
# Weight-name prefixes of format-1 trained runs, and their names in the model of today.
LEGACY_WEIGHTS = {"backbone.": "encoders.audio.", "layer_sum.": "mixes.audio.layer_sum."}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_classes(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 2 and len(set(value)) == len(value)
            and all(isinstance(c, str) and c for c in value))  # fmt: skip


def _of(kind: type) -> Any:
    return lambda value: isinstance(value, kind)


def _is_inputs(value: Any) -> bool:
    """``{modality: {"encoder": name, "params": {...}, "column": name}}`` (not audio)."""
    return isinstance(value, dict) and all(
        isinstance(name, str) and name != "audio" and isinstance(entry, dict)
        and set(entry) == {"encoder", "params", "column"} and isinstance(entry["encoder"], str)
        and isinstance(entry["params"], dict) and isinstance(entry["column"], str)
        for name, entry in value.items()
    )  # fmt: skip


def _is_asr(value: Any) -> bool:
    """``null`` or the ``data.asr`` settings a run transcribed its text with."""
    return value is None or (
        isinstance(value, dict) and set(value) == {"model", "language", "beam_size",
                                                   "compute_type", "threads"}
        and isinstance(value["model"], str) and isinstance(value["compute_type"], str)
        and (value["language"] is None or isinstance(value["language"], str))
        and _is_int(value["beam_size"]) and _is_int(value["threads"])
    )  # fmt: skip


# key -> (check, what the value must be), per kind of run; "?" keys may be absent.
KEYS: dict[str, dict[str, tuple[Any, str]]] = {
    "common": {
        "classes": (_is_classes, "a list of two or more distinct class names"),
        "sample_rate": (lambda v: _is_int(v) and v > 0, "a positive integer (Hz)"),
        "audio?": (_of(dict), "an object"),
        "format?": (lambda v: v in (1, FORMAT), f"1 or {FORMAT}"),
        "folds?": (lambda v: v is None or (_is_int(v) and v > 0), "a positive integer or null"),
    },
    "frozen": {
        "upstream": (_of(str), "a registered upstream name"),
        "params": (_of(dict), "an object of upstream parameters"),
        "layer": (
            lambda v: v is None or _is_int(v),
            "an integer hidden-state index, or null (every hidden state)",
        ),  # fmt: skip
        "pooling": (lambda v: v in Pooling.values(), f"one of {Pooling.values()}"),
        "normalization": (
            lambda v: v in Normalization.values() and v != Normalization.AUTO,
            f"one of {[v for v in Normalization.values() if v != Normalization.AUTO]}",
        ),
    },
    "finetune": {
        "encoder?": (_of(str), "a registered encoder name"),
        "encoder_params?": (_of(dict), "an object of encoder parameters"),
        "architecture?": (_of(str), "a registered model name"),
        "architecture_params?": (_of(dict), "an object"),
        "fusion?": (_of(str), "a registered fusion name"),
        "model?": (_of(str), "a model folder or hub id"),
        "layer": (lambda v: v is None or _is_int(v), "an integer or null"),
        "whisper_input?": (lambda v: v in ("padded", "real_length"), "'padded' or 'real_length'"),
        "strategy": (_of(str), "a registered strategy name"),
        "strategy_params": (_of(dict), "an object"),
        "source_strategy?": (_of(str), "a strategy name"),
        "speaker_norm?": (_of(bool), "true or false"),
        "random_init?": (_of(bool), "true or false"),
        "source?": (_of(bool), "true or false"),
        "inputs?": (
            _is_inputs,
            'an object {modality: {"encoder": name, "params": {...}, '
            '"column": name}} of the inputs besides audio',
        ),
        "asr?": (_is_asr, 'null or {"model", "language", "beam_size", "compute_type", "threads"}'),
        "dimensions?": (
            lambda v: (
                isinstance(v, list)
                and all(d in Dimension.values() for d in v)
                and len(set(v)) == len(v)
            ),
            f"a list of distinct dimensions among {Dimension.values()}",
        ),  # fmt: skip
    },
}


def read_model_spec(
    folder: str | Path, *, plugins: Collection[str] = (), trust_remote_code: bool = False
) -> ModelSpec:
    """``model.json`` of a run folder, checked, with the caller's security settings applied.

    Every key is checked for its type and vocabulary; a component name (``upstream``,
    ``strategy``) must be registered or listed in ``plugins``. ``trust_remote_code`` replaces
    whatever the file says (a run folder never decides to run a model's code), and
    ``audio`` holds the run's limits (the defaults for runs that predate them).

    Raises:
        FileNotFoundError: no ``model.json``.
        RunFolderError: not JSON, a missing or wrong key, or a refused name; the message names
            the file, the key and what is allowed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "model.json").write_text(json.dumps({"kind": "frozen",
        ...     "upstream": "subprocess:Popen", "params": {}, "layer": 0, "pooling": "mean",
        ...     "normalization": "none", "classes": ["anger", "sadness"],
        ...     "sample_rate": 16000}))
        >>> read_model_spec(folder)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        emotransfer.io.RunFolderError: ...model.json: "upstream": 'subprocess:Popen' ...
        >>> read_model_spec(folder, plugins=["subprocess:Popen"]).params
        {}
    """
    path = Path(folder) / SPEC
    if not path.is_file():
        raise FileNotFoundError(f"{Path(folder)}: no {SPEC}; Predictor loads trained run folders")
    try:
        spec = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path}: not a JSON model description ({error})") from error
    if not isinstance(spec, dict):
        raise RunFolderError(f"{path}: not a JSON object")
    if spec.get("kind", "finetune") not in COMPONENTS:
        raise RunFolderError(f'{path}: "kind": "frozen", or absent for a fine-tuning run')
    kind = spec.get("kind", "finetune")
    if kind == "frozen" and (spec.get("upstream") == "hf_text" or "text" in spec):
        raise RunFolderError(f"{path}: a frozen run of text (hf_text): its metrics and "
                             "fold heads are in the folder, but predict serves audio runs "
                             "only")  # fmt: skip
    for group in ("common", kind):
        for key, (check, wanted) in KEYS[group].items():
            name = key.rstrip("?")
            if name not in spec and key.endswith("?"):
                continue
            if name not in spec or not check(spec[name]):
                shown = f"{spec[name]!r}" if name in spec else "missing"
                raise RunFolderError(f'{path}: "{name}": must be {wanted}, not {shown}')
    for key, component in COMPONENTS[kind].items():
        if key in spec:
            _check_component(path, key, component, spec[key], plugins)
    parts = spec.get("architecture_params", {}) if kind == "finetune" else {}  # a dict (checked)
    for key, component in ARCHITECTURE_PARTS.items():
        if key in parts:
            _check_component(path, f"architecture_params.{key}", component, str(parts[key]),
                             plugins)  # fmt: skip
    spec = {**spec, "audio": _audio_limits(path, spec)}
    if kind == "frozen":
        spec["params"] = _trusted_params("upstream", spec["upstream"], spec["params"], plugins,
                                         trust_remote_code)  # fmt: skip
        return FrozenSpec.from_json(spec)
    if "encoder" not in spec and "model" not in spec:
        raise RunFolderError(f'{path}: "encoder": must be a registered encoder name, not missing')
    trained = TrainedSpec.from_json(spec)
    if trained.encoder == "upstream":
        _check_component(path, "encoder_params.upstream", "upstream",
                         str(trained.encoder_params.get("upstream")), plugins)  # fmt: skip
    trained.encoder_params = _trusted_params("encoder", trained.encoder, trained.encoder_params,
                                             plugins, trust_remote_code)  # fmt: skip
    for modality, entry in trained.inputs.items():
        _check_component(path, f"inputs.{modality}.encoder", "encoder", entry["encoder"], plugins)
        entry["params"] = _trusted_params("encoder", entry["encoder"], entry["params"], plugins,
                                          trust_remote_code)  # fmt: skip
    trained.trust_remote_code = trust_remote_code
    return trained


@dataclass
class FrozenSpec:
    """A frozen-feature run: upstream -> pooled hidden state ``layer`` (``None``: every hidden
    state, for a head that mixes them) -> fold heads."""

    upstream: str
    params: dict[str, Any]
    layer: int | None
    pooling: str
    normalization: str
    classes: list[str]
    sample_rate: int
    audio: dict[str, Any] = field(default_factory=dict)
    folds: int | None = None
    format: int = FORMAT
    kind: Literal["frozen"] = "frozen"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrozenSpec:
        """A spec from ``model.json`` data (no ``format`` key: format 1)."""
        names = cls.__dataclass_fields__
        kept = {k: v for k, v in data.items() if k in names and k != "format"}
        return cls(**kept, format=spec_format(data))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainedSpec:
    """A trained :class:`~emotransfer.models.emotion_model.EmotionModel`: the ``encoder``
    (registered name + parameters) of the ``audio`` input, the encoders of its other
    ``inputs`` (modality -> encoder, parameters and the manifest column of its items), the
    ``architecture`` (``model`` registry), its ``fusion``, hidden ``layer`` (``None``:
    weighted sum), the ``strategy`` that was trained, a two-stage run's stage-1 strategy
    (``source``), the ASR settings (``asr``) that make a clip's text where none is given,
    and the ``dimensions`` its dimensional head predicts after the classes."""

    classes: list[str]
    sample_rate: int
    encoder: str = "hf"
    encoder_params: dict[str, Any] = field(default_factory=dict)
    architecture: str = "pooled"
    architecture_params: dict[str, Any] = field(default_factory=dict)
    fusion: str = "identity"
    layer: int | None = None
    strategy: str = "frozen"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    speaker_norm: bool = False
    source: bool = False
    source_strategy: str = "full"
    source_params: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    asr: dict[str, Any] | None = None
    dimensions: list[str] = field(default_factory=list)
    folds: int | None = None
    format: int = FORMAT
    trust_remote_code: bool = False  # the caller's, never the file's
    kind: Literal["finetune"] = "finetune"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainedSpec:
        """A spec from ``model.json`` data; format 1 (``model``, ``whisper_input``,
        ``random_init`` keys) becomes the ``hf`` encoder with those parameters."""
        data = {**data, "format": spec_format(data)}
        if "encoder" not in data:
            data["encoder"] = "hf"
            data["encoder_params"] = {
                "model": data["model"],
                "whisper_input": data.get("whisper_input", "real_length"),
                "random_init": data.get("random_init", False),
            }
        names = cls.__dataclass_fields__
        spec = cls(**{k: v for k, v in data.items() if k in names and k != "trust_remote_code"})
        return spec

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("trust_remote_code")  # the caller decides, at every load
        return data

    def weight_names(self, names: Collection[str]) -> dict[str, str]:
        """Saved weight name -> the model's name (format 1 renamed, format 2 as it is)."""
        if self.format != 1:
            return {name: name for name in names}
        renamed = {}
        for name in names:
            for old, new in LEGACY_WEIGHTS.items():
                if name.startswith(old):
                    renamed[name] = new + name[len(old) :]
                    break
            else:
                renamed[name] = name
        return renamed


ModelSpec = FrozenSpec | TrainedSpec


def spec_format(data: Any) -> int:
    """The format of ``model.json`` data: what it says, or 1 for a file that predates the
    key (a frozen run without ``format``, a trained run without ``encoder``); anything
    unreadable counts as the newest format, whose folders must hold every record.

    Example:
        >>> spec_format({"kind": "frozen"}), spec_format({"model": "m"}), spec_format([])
        (1, 1, 2)
    """
    if not isinstance(data, dict):
        return FORMAT
    if data.get("kind", "finetune") == "frozen":
        return data.get("format", 1)
    return 1 if "encoder" not in data else data.get("format", FORMAT)


def declared_layout(folder: str | Path) -> tuple[int, int | None]:
    """``(format, folds)`` as the folder's ``model.json`` declares them, read leniently
    (before the folder is verified; an unreadable file: the newest format, no fold count)."""
    try:
        data = json.loads((Path(folder) / SPEC).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return FORMAT, None
    folds = data.get("folds") if isinstance(data, dict) else None
    return spec_format(data), folds if _is_int(folds) and folds > 0 else None


def _check_component(
    path: Path, key: str, kind: str, name: str, plugins: Collection[str]
) -> None:  # fmt: skip
    if name in registry.names(kind) or name in plugins:
        return
    known = ", ".join(registry.names(kind))
    if ":" in name:
        raise RunFolderError(
            f'{path}: "{key}": {name!r} is a class path, and a run folder may not make '
            f"emotransfer import code; if you trust it, allow it explicitly: emotransfer "
            f"predict --plugin {name} (Predictor.from_run(..., plugins=[{name!r}])); "
            f"registered {kind} names: {known}"
        )
    raise RunFolderError(f'{path}: "{key}": unknown {kind} {name!r}; registered: {known}')


def _audio_limits(path: Path, spec: dict[str, Any]) -> dict[str, Any]:
    audio = {**AUDIO_DEFAULTS, "sample_rate": spec["sample_rate"], **spec.get("audio", {})}
    if audio["sample_rate"] != spec["sample_rate"]:
        raise RunFolderError(f'{path}: "audio.sample_rate" {audio["sample_rate"]!r} differs '
                             f'from "sample_rate" {spec["sample_rate"]!r}')  # fmt: skip
    limits = (audio["min_duration"], audio["max_duration"])
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in limits) or not (
        0 <= limits[0] < limits[1]
    ):
        raise RunFolderError(f'{path}: "audio": min_duration and max_duration must be '
                             f"seconds with 0 <= min < max, not {limits}")  # fmt: skip
    return audio


def _trusted_params(
    kind: str, name: str, params: dict[str, Any], plugins: Collection[str],
    trust_remote_code: bool,
) -> dict[str, Any]:  # fmt: skip
    """``params`` with the caller's ``trust_remote_code`` where the component names it (and
    inside the parameters of a wrapped upstream), and without the file's value anywhere."""
    if kind == "encoder" and name == "upstream" and isinstance(params.get("params"), dict):
        inner = _trusted_params("upstream", str(params.get("upstream")), params["params"],
                                plugins, trust_remote_code)  # fmt: skip
        params = {**params, "params": inner}
    accepted = inspect.signature(registry.resolve(kind, name, plugins=plugins))
    # Only a component that names the parameter gets it; for any other the file's value is
    # dropped (never passed on through **kwargs: LogMel's analysis takes none).
    takes = "trust_remote_code" in accepted.parameters
    params = {k: v for k, v in params.items() if k != "trust_remote_code"}
    return {**params, "trust_remote_code": trust_remote_code} if takes else params
