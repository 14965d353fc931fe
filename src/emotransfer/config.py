"""Experiment schema, YAML load/save and ``a.b=c`` overrides.

Every section is a pydantic model that forbids unknown keys, so a typo in a config fails
with a message naming the key. Components receive plain values from here as arguments.

Example:
    >>> config = load_config(None, overrides=["data.corpora=[{name: synthetic, root: /tmp/x}]",
    ...                                       "split.kind=loso"])
    >>> config.split.kind
    'loso'
    >>> load_config(None, overrides=["split.kind=random"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emotransfer.config.ConfigError: split.kind: Value error, 'random' is not a known split; ...
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from emotransfer.config_sections import (
    CLASS_PATH,
    COLUMNS,
    RUN_NAME,
    DataConfig,
    EvaluationConfig,
    FeatureConfig,
    FewShotConfig,
    FinetuneConfig,
    HeadConfig,
    ModelConfig,
    Section,
    SplitConfig,
)
from emotransfer.define import MODALITIES, is_audio_view
from emotransfer.safe_yaml import YAMLLimitError, load_yaml


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key and the problem."""


class ExperimentConfig(Section):
    name: str = Field("experiment", description="run name: the run folder is output_dir/name")
    seed: int = Field(0, ge=0, lt=2**32, description="fixes every random choice of the run")
    plugins: list[str] = Field(
        default_factory=list,
        description="module:Class components this config may import (out-of-tree corpora, "
        "upstreams, heads, strategies); nothing else is ever imported by name",
    )
    output_dir: str = "runs"
    cache_dir: str | None = Field(None, description="default: $EMOTRANSFER_CACHE or ~/.cache")
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    inputs: dict[str, FeatureConfig] = Field(
        default_factory=dict,
        description="the model's inputs by modality ({audio: ...}); `features` is the audio "
        "input written the older way (either may be given, not both)",
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    head: HeadConfig = Field(default_factory=HeadConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    finetune: FinetuneConfig | None = Field(None, description="train on audio (issue 4)")
    fewshot: FewShotConfig | None = Field(None, description="few-shot study (emotransfer fewshot)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # The name becomes a folder under output_dir: a path (../x, /x, a/b) would write
        # the run elsewhere.
        if not RUN_NAME.fullmatch(value) or len(value) > 200:
            raise ValueError(
                f"{value!r} is not a plain run name (letters, digits and _ . = + -, not "
                "starting with a dot; no / or ..): it names a folder under output_dir"
            )
        return value

    @field_validator("plugins")
    @classmethod
    def _plugins(cls, value: list[str]) -> list[str]:
        for item in value:
            if not CLASS_PATH.fullmatch(item):
                raise ValueError(f"{item!r} is not a module:Class path")
        return value

    @model_validator(mode="after")
    def _inputs(self) -> ExperimentConfig:
        unknown = sorted(n for n in self.inputs if n not in MODALITIES and not is_audio_view(n))
        if unknown:
            raise ValueError(f"inputs {unknown}: known modalities are {list(MODALITIES)}, and "
                             "audio_<name> (a second view of the audio: lower-case letters, "
                             "digits and _)")  # fmt: skip
        if "audio" in self.inputs:
            if "features" in self.model_fields_set and self.features != self.inputs["audio"]:
                raise ValueError("give the audio input once: `inputs.audio` or `features`")
            self.__dict__["features"] = self.inputs["audio"]  # no re-validation loop
        others = sorted(set(self.inputs) - {"audio"})
        if (self.text_only or self.early_fusion) and self.inputs["text"].upstream != "hf_text":
            what = "run" if self.text_only else "input"
            raise ValueError(f"inputs.text.upstream {self.inputs['text'].upstream!r}: a "
                             f"frozen text {what} encodes with hf_text")  # fmt: skip
        if self.text_only:  # a frozen run of text alone: `features` is the text input
            self.__dict__["features"] = self.inputs["text"]
        elif others and self.finetune is None and others != ["text"]:
            raise ValueError(
                f"inputs {others}: a frozen-feature run takes audio, text, or both (early "
                "fusion); other inputs train one model: add a finetune section (strategy: "
                "frozen trains the fusion and head on frozen encoders)"
            )
        if self.evaluation.dimension_fusion == "multistage" and not (
            self.early_fusion and self.evaluation.dimensions
        ):
            raise ValueError("evaluation.dimension_fusion multistage fuses the dimensional "
                             "predictions of a frozen run of audio and text (features and "
                             "inputs.text, evaluation.dimensions); this run has "
                             f"{'no dimensions' if not self.evaluation.dimensions else 'one input'}"
                             + (" (a finetune run learns its dimensions with its model)"
                                if self.finetune is not None else ""))  # fmt: skip
        if (self.early_fusion or self.text_only) and self.data.test_corruption:
            raise ValueError("data.test_corruption changes the test audio; a frozen run with a "
                             "text input cannot corrupt its text")  # fmt: skip
        if others and self.finetune is not None and self.finetune.source:
            raise ValueError(f"inputs {others}: two-stage transfer (finetune.source) trains "
                             "the audio encoder alone; give the audio input only")  # fmt: skip
        if self.finetune is not None and self.finetune.cache_states and self.data.test_corruption:
            raise ValueError("finetune.cache_states: the test clips' states are computed once, "
                             "so data.test_corruption cannot change their waveforms")  # fmt: skip
        return self

    def column_of(self, modality: str) -> str:
        """The manifest column of ``modality``'s items: its input's ``column``, else the
        modality's default (``text``: ``text``).

        Example:
            >>> ExperimentConfig().column_of("text")
            'text'
        """
        if is_audio_view(modality):
            return "file"
        section = self.inputs.get(modality)
        return (section.column if section is not None else None) or COLUMNS[modality]

    @property
    def text_only(self) -> bool:
        """A frozen-feature run of the text input alone (no audio is read): ``inputs.text``
        without ``features`` (the audio input written the older way)."""
        given = "features" in self.model_fields_set  # a reloaded config repeats the text
        return (self.finetune is None and set(self.inputs) == {"text"}
                and (not given or self.features == self.inputs["text"]))  # fmt: skip

    @property
    def early_fusion(self) -> bool:
        """A frozen-feature run of audio and text: their pooled features concatenated."""
        return self.finetune is None and "text" in self.inputs and not self.text_only

    def other_inputs(self) -> dict[str, FeatureConfig]:
        """The inputs besides audio, by modality (text ...) in modality order, then the audio
        views by name."""
        names = [name for name in MODALITIES if name in self.inputs and name != "audio"]
        names += sorted(name for name in self.inputs if is_audio_view(name))
        return {name: self.inputs[name] for name in names}

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """A short hash of the resolved config (see :func:`config_digest`)."""
        return config_digest(self.to_dict())


def settings(section: BaseModel) -> dict[str, Any]:
    """The values of ``section`` set away from their defaults, recursively (JSON types).

    A section given with all its defaults stays as ``{}`` (its presence is a setting), and a
    key a later version adds with a default that keeps the old behaviour is absent, so a
    record of settings outlives such additions.

    Example:
        >>> settings(load_config(None, overrides=["split.folds=3", "seed=3"]))
        {'seed': 3, 'split': {'folds': 3}}
    """
    found: dict[str, Any] = {}
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        default = field.get_default(call_default_factory=True)
        if isinstance(value, BaseModel) and (default is None or isinstance(default, BaseModel)):
            inner = settings(value)
            if inner or default is None:
                found[name] = inner
        elif value != default:
            found[name] = section.model_dump(mode="json", include={name})[name]
    return found


def config_digest(values: dict[str, Any]) -> str:
    """A short hash of a config dict, independent of key order.

    Example:
        >>> config_digest({"a": 1, "b": 2}) == config_digest({"b": 2, "a": 1})
        True
    """
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_config(
    path: str | Path | None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    plugins: list[str] | tuple[str, ...] = (),
) -> ExperimentConfig:
    """Read a YAML file (or start from defaults), apply ``a.b=c`` overrides, add ``plugins``
    (the command line's ``--plugin``) to the config's own, validate.

    Raises:
        ConfigError: unreadable YAML, an unknown key or a bad value (the message names it).
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = load_yaml(Path(path).read_text()) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError, YAMLLimitError) as error:
            raise ConfigError(f"{path}: cannot read config: {error}") from error
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config must be a mapping, got {type(raw).__name__}")
    for override in overrides:
        apply_override(raw, override)
    if plugins and isinstance(raw.get("plugins", []), list):  # else validation names it
        raw["plugins"] = list(dict.fromkeys([*raw.get("plugins", []), *plugins]))
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, path)) from None


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in a nested dict; the value is parsed as YAML; list items by index."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {shorten(override)!r} must look like key=value")
    key = key.strip()
    try:
        value = load_yaml(text, key=key)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {shorten(override)!r}: bad value: {error}") from error
    except YAMLLimitError as error:  # names the key inside the value
        raise ConfigError(f"override {shorten(override)!r}: {error}") from None
    parts = key.split(".")
    node: Any = raw
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[_index(part, node, key)]
        else:
            node = node.setdefault(part, {})
        if not isinstance(node, dict | list):
            raise ConfigError(f"override {key!r}: {part!r} holds a value, not a section")
    if isinstance(node, list):
        node[_index(parts[-1], node, key)] = value
    else:
        node[parts[-1]] = value


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a message, saying how long it was.

    Example:
        >>> shorten("name=" + "x" * 1000, limit=12)
        'name=xxxxxxx... (1005 characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    from emotransfer.io import write_text

    write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def _index(part: str, node: list[Any], key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {key!r}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def _describe(error: ValidationError, path: str | Path | None) -> str:
    where = f"{path}: " if path else ""
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{shorten(key)}: {_shorten_values(message)}")
    return where + "; ".join(lines)


def _shorten_values(message: str) -> str:
    """A validator's message with each long quoted value (or long word) cut short."""
    message = re.sub(r"'([^'\n]{100,})'", lambda m: f"'{shorten(m.group(1), 60)}'", message)
    return re.sub(r"\S{100,}", lambda m: shorten(m.group(), 60), message)
