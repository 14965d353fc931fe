"""The sections of an experiment config (data, split, features, head, evaluation, model,
fine-tuning, few-shot), each a pydantic model with its own checks; the whole config and its
loading live in :mod:`emotransfer.config`."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from emotransfer.define import Normalization, SplitKind


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CorpusConfig(Section):
    name: str = Field(description="adapter name from `emotransfer corpora`, or module:Class")
    root: str = Field(description="corpus folder, absolute or relative to the working dir")
    params: dict[str, Any] = Field(default_factory=dict)
    speakers: list[str] = Field(default_factory=list, description="keep only these speakers")
    exclude_speakers: list[str] = Field(default_factory=list, description="drop these speakers")

    @field_validator("speakers", "exclude_speakers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # YAML reads 10 as a number; ids are text (quote ids with leading zeros: '03').
        return [str(v) for v in value] if isinstance(value, list) else value


class LabelConfig(Section):
    column: str = Field(
        "emotion",
        pattern=r"^[A-Za-z_][A-Za-z0-9_ .-]*$",
        description="the manifest column to predict (e.g. vocalization); another column than "
        "emotion has no harmonised vocabulary: its labels are kept as they are",
    )
    classes: list[str] = Field(default_factory=list, description="empty = all labels")
    merge: dict[str, str] = Field(default_factory=dict)
    other: str = Field(
        "drop",
        description="labels outside `classes` (or, without classes, outside the vocabulary): "
        "'drop' (without classes: refuse them), 'keep' (without classes), or a class to "
        "merge them into",
    )

    @field_validator("other")
    @classmethod
    def _other(cls, value: str, info: ValidationInfo) -> str:
        from emotransfer.data.labels import check_other

        return check_other(value, info.data.get("classes") or [])


class AudioConfig(Section):
    sample_rate: int = Field(16000, gt=0)
    min_duration: float = Field(0.1, ge=0)
    max_duration: float = Field(600.0, gt=0)
    on_error: Literal["raise", "skip"] = "raise"

    @model_validator(mode="after")
    def _durations(self) -> AudioConfig:
        if self.min_duration >= self.max_duration:
            raise ValueError(f"min_duration ({self.min_duration} s) must be below max_duration "
                             f"({self.max_duration} s)")  # fmt: skip
        return self

    def options(self) -> dict[str, Any]:  # load_audio's rate and duration limits
        return self.model_dump(include={"sample_rate", "min_duration", "max_duration"})


class AsrConfig(Section):
    """Transcripts by ASR (faster-whisper) for a text input the manifest lacks."""

    model: str = Field(
        ..., description="a CTranslate2 Whisper folder or a faster-whisper hub id (base, ...)"
    )
    language: str | None = Field(None, description="a language code; null: detected per clip")
    beam_size: int = Field(5, ge=1)
    compute_type: str = Field("int8", description="CTranslate2 compute type (int8, float32 ...)")
    threads: int = Field(2, ge=1)
    replace: bool = Field(
        False, description="transcribe every clip, also those whose text the manifest gives"
    )


class DataConfig(Section):
    corpora: list[CorpusConfig] = Field(default_factory=list)
    labels: LabelConfig = Field(default_factory=LabelConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    test_corruption: dict[str, Any] | list[dict[str, Any]] | None = Field(
        None, description="corrupt every fold's test clips (train clean -> test corrupted)"
    )
    allow_duplicates: bool = Field(
        False, description="keep manifest rows that repeat a segment (same file, start, end)"
    )
    asr: AsrConfig | None = Field(
        None, description="transcribe the clips whose text a text input needs (faster-whisper)"
    )


class SplitConfig(Section):
    kind: str = SplitKind.LOSO
    folds: int = Field(5, ge=2, description="speaker_kfold: folds; disjoint: speaker groups")
    content: str = Field(
        "text_id", description="disjoint: the column of what is said (text_id, text, ...)"
    )
    content_folds: int | None = Field(
        None, ge=2, description="disjoint: groups of content values (default: folds)"
    )
    column: str = Field("split", description="predefined: the manifest column to read")
    train_values: list[str] = Field(default_factory=lambda: ["train"])
    test_values: list[str] = Field(default_factory=lambda: ["test"])
    train_corpora: list[str] = Field(default_factory=list)
    test_corpora: list[str] = Field(default_factory=list)
    allow_leakage: bool = False
    allow_confounded: bool = Field(
        False,
        description="normalise per speaker even when most speakers show one emotion (the "
        "normalisation then removes the emotion; refused otherwise)",
    )
    unlearnable: Literal["raise", "drop"] = Field(
        "raise",
        description="a class tested in a fold whose training rows lack it: refuse the run, or "
        "drop that class' rows from every fold (listed as skipped)",
    )
    only_folds: list[str] = Field(
        default_factory=list, description="run only these folds (names as in the report)"
    )
    train_per_class: int | None = Field(
        None,
        ge=1,
        description="keep at most this many training clips per class in every fold (a seeded "
        "draw; test clips unchanged): learning curves and small-data studies",
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        from emotransfer.data.splits import check_split_kind

        return check_split_kind(value)


class FeatureConfig(Section):
    upstream: str = Field(
        "egemaps", description="audio: a registered upstream; text: a registered text encoder"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    column: str | None = Field(
        None,
        description="the manifest column holding this input's items (text: 'text'); "
        "the audio input reads `file`",
    )
    layer: int | None = Field(
        -1,
        description="hidden state index; -1 = last; null = every hidden state, for a head that "
        "mixes them (layer_sum)",
    )
    pooling: Literal["mean", "std", "mean_std"] = "mean_std"
    normalization: str = Field(
        Normalization.AUTO,
        description="speaker | corpus | global | none | auto: speaker where every speaker "
        "shows several classes, else corpus (several corpora) or global",
    )
    workers: int = Field(2, ge=1)

    @field_validator("normalization")
    @classmethod
    def _normalization(cls, value: str) -> str:
        return Normalization.validate(value)

    def one_layer(self, what: str) -> int:
        """``layer``, for an analysis that needs one hidden state.

        Raises:
            ValueError: ``layer`` is null (every hidden state), naming ``what`` needs one.
        """
        if self.layer is None:
            raise ValueError(
                "features.layer: null (every hidden state) is for `run` with a head that mixes "
                f"layers (layer_sum); {what} needs one layer"
            )
        return self.layer


class HeadConfig(Section):
    name: str = "svm"
    params: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="empty = head default")
    inner_folds: int = Field(3, ge=2, description="speaker groups for inner validation")
    refit: bool = Field(
        True,
        description="also fit one head on all the run's rows (parameters chosen on speaker "
        "folds of all of them) for predict; the metrics come from the fold heads",
    )
    calibration: Literal["temperature", "none"] = Field(
        "temperature",
        description="probabilities: softmax(logits / T), T fitted on inner folds (an SVM's "
        "too); none = the head's own (an SVM: one vote)",
    )
    auxiliary: list[str] = Field(
        default_factory=list, description="multitask head: auxiliary label columns (gender...)"
    )


class EvaluationConfig(Section):
    bootstrap: int = Field(1000, ge=0)
    confidence: float = Field(0.95, gt=0, lt=1)
    dimensions: list[Literal["arousal", "valence", "dominance"]] = Field(
        default_factory=list, description="also regress these (ridge) and report CCC"
    )
    dimension_fusion: Literal["early", "multistage"] = Field(
        "early",
        description="a frozen run of audio and text: early = one ridge per dimension on the "
        "concatenated inputs (a weight per input chosen on inner folds); multistage = a ridge "
        "per input and dimension, then a second-stage ridge per dimension on their out-of-fold "
        "predictions of every dimension (Atmaja & Akagi 2020)",
    )


class ModelConfig(Section):
    """The trainable model's architecture (``finetune`` runs): a registered ``model`` name,
    its fusion of the inputs and extra parameters."""

    name: str = Field("pooled", description="registered model architecture (registry 'model')")
    fusion: str = Field("identity", description="registered fusion of the inputs")
    params: dict[str, Any] = Field(default_factory=dict, description="architecture arguments")
    encoder: str | None = Field(
        None,
        description="registered encoder of the audio input; null = the one computing "
        "`features.upstream` (hf, logmel, or the frozen upstream wrapped)",
    )
    encoder_params: dict[str, Any] = Field(default_factory=dict, description="encoder arguments")

    @property
    def allows_missing(self) -> bool:
        """Whether a clip may lack an input besides the audio (``params.missing_inputs`` or
        ``params.modality_dropout``): its empty cells are then missing items, not errors."""
        return bool(self.params.get("missing_inputs") or self.params.get("modality_dropout"))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _registered("model", value)

    @field_validator("fusion")
    @classmethod
    def _fusion(cls, value: str) -> str:
        return _registered("fusion", value)


def _registered(kind: str, value: str) -> str:
    from emotransfer import registry

    if ":" not in value and value not in registry.names(kind):
        raise ValueError(f"unknown {kind} {value!r}; known: {', '.join(registry.names(kind))}")
    return value


# The manifest column that holds each input's items by default (audio and its views are
# decoded from ``file``; video: the path of each clip's frame-feature file).
COLUMNS = {"text": "text", "video": "video"}


class FinetuneConfig(Section):
    """Training the encoder on audio (instead of frozen cached features)."""

    strategy: str = Field("lora", description="frozen | finetune | full | lora | adapters")
    params: dict[str, Any] = Field(default_factory=dict, description="strategy arguments")
    layer: int | None = Field(None, description="hidden state to pool; null = weighted sum")
    epochs: int = Field(10, ge=0, description="0: the LP-FT head stage alone (head_epochs)")
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    accumulation: int = Field(1, ge=1)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    patience: int = Field(3, ge=1)
    max_seconds: float | None = Field(8.0, description="random crop of training clips")
    dimension_weight: float = Field(1.0, ge=0, description="weight of the dimensional loss "
        "(1 - CCC per evaluation.dimensions entry) beside the classes' cross-entropy")  # fmt: skip
    head_epochs: int = Field(0, ge=0, description="LP-FT: train the layer mix + head alone on "
        "pooled frozen states for this many passes before `epochs` (each stage)")  # fmt: skip
    stream_audio: bool = Field(False, description="decode each batch's clips when needed "
                               "(validated once first), not every clip in memory")  # fmt: skip
    loader_workers: int = Field(2, ge=0, description="processes decoding streamed batches")
    head_recipe: Literal["epochs", "probe"] = Field("epochs", description="LP-FT head stage: "
        "minibatch passes, or the probe's fit (head_epochs full-batch steps at 1e-2, the "
        "weight decay chosen on 5 inner speaker folds)")  # fmt: skip
    validation_folds: int = Field(
        5,
        ge=0,
        description="1/k of training speakers validate (early stopping); 0 = none: "
        "train on every training speaker for `epochs`",
    )
    refit: bool = Field(
        True,
        description="also train one model on all the run's clips for the median of the folds' "
        "best epochs (refit/), the model predict serves; the metrics come from the folds",
    )
    calibration: Literal["temperature", "none"] = Field(
        "temperature",
        description="probabilities: softmax(logits / T), each fold's T fitted on the other "
        "folds' held-out logits, the served models' on all (calibration.json); none = softmax",
    )

    @field_validator("validation_folds")
    @classmethod
    def _validation(cls, value: int) -> int:
        if value == 1:
            raise ValueError("validation_folds is 0 (no validation) or >= 2")
        return value

    @model_validator(mode="after")
    def _something_trains(self) -> FinetuneConfig:
        if self.epochs == 0 == self.head_epochs:
            raise ValueError("epochs: 0 trains nothing without head_epochs (the LP-FT head stage)")
        return self

    source: list[CorpusConfig] = Field(
        default_factory=list, description="two-stage: corpora of stage 1 (all rows train)"
    )
    source_strategy: str = "full"
    source_params: dict[str, Any] = Field(default_factory=dict)
    source_epochs: int = Field(3, ge=1)
    source_target: str = Field(
        "emotion", description="stage-1 label column: emotion, or another task (speaker, gender)"
    )
    augment: dict[str, Any] | list[dict[str, Any]] | None = Field(
        None, description="corruption applied to training clips on the fly"
    )
    random_init: bool = Field(
        False, description="start from the encoder architecture with random weights"
    )
    normalization: Literal["global", "speaker", "auto"] = Field(
        "global",
        description="speaker: subtract each speaker's mean pooled vector in the model (and "
        "batches of one speaker); auto: speaker where every speaker shows several classes",
    )
    export_encoder: bool = Field(
        False, description="save each fold's adapted encoder (LoRA merged) as a model folder"
    )
    log_with: Literal["none", "tensorboard", "mlflow"] = Field(
        "none",
        description="log each trained model's epochs (loss, validation UAR) through "
        "Accelerate's tracker: TensorBoard event files in models/<fold>/tracking/, or MLflow "
        "runs where MLFLOW_TRACKING_URI says (pip install 'emotransfer[track]')",
    )
    cache_states: bool = Field(
        False,
        description="strategy frozen: compute the audio encoder's states once (float16, in "
        "memory) and train the rest on them; crops cut frames; no waveform augmentation",
    )

    @model_validator(mode="after")
    def _cached(self) -> FinetuneConfig:
        if self.cache_states and (self.strategy != "frozen" or self.augment or self.source):
            raise ValueError(
                "cache_states: the encoder's states are computed once, so the encoder must "
                f"stay as it is (strategy frozen, not {self.strategy!r}), without waveform "
                "augmentation (augment) or a stage 1 (source)"
            )
        return self


class FewShotConfig(Section):
    """A MetaSER-style few-shot study (``emotransfer fewshot``): adapt to ``target`` with K
    labelled clips per class after learning from the other corpora."""

    target: str = Field(description="the target corpus (its `corpus` column value)")
    shots: list[int] = Field(default_factory=lambda: [1, 5, 10, 20])
    repeats: int = Field(10, ge=1, description="support/query draws per K (CI over them)")
    methods: list[str] = Field(
        default_factory=lambda: ["maml", "maml_shared", "transfer", "multitask", "scratch"],
        description="maml | maml_shared | maml_second_order | transfer | multitask | scratch; "
        "<method>_layers: every hidden state, the one chosen on the support clips",
    )
    tasks: Literal["corpus", "speaker"] = Field(
        "corpus", description="meta-training tasks: the source corpora or their speakers"
    )
    protocol: Literal["speaker", "random"] = Field(
        "speaker", description="support and query clips from disjoint target speakers, or not"
    )
    hidden: int = Field(128, ge=1)
    meta_steps: int = Field(600, ge=0)
    episode_shots: int = Field(5, ge=1, description="MAML: support clips per class per episode")
    episode_queries: int = Field(5, ge=1, description="MAML: query clips per class per episode")


RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+-]*")
CLASS_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")
