"""Any transformers audio encoder, every hidden state: wav2vec2, HuBERT, WavLM, data2vec-audio,
MERT-style models and the Whisper encoder.

The model is a local folder (``save_pretrained`` layout) or a hub id. It loads on first use and
is cached on the instance, so the object stays a plain, picklable bag of parameters.

Example (a tiny random wav2vec2, built on the spot):
    >>> import tempfile, transformers
    >>> config = transformers.Wav2Vec2Config(
    ...     hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
    ...     conv_dim=(8, 8), conv_kernel=(10, 3), conv_stride=(5, 2),
    ...     num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    >>> folder = tempfile.mkdtemp()
    >>> transformers.Wav2Vec2Model(config).save_pretrained(folder)
    >>> encoder = HFEncoder(model=folder)
    >>> encoder.extract(np.zeros(16000, dtype="float32")).shape
    (3, 1599, 16)
    >>> encoder.num_layers, encoder.hidden_size
    (2, 16)
"""

from __future__ import annotations

import contextlib
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import transformers

from emotransfer.features.cache import files_digest
from emotransfer.features.hf_runners import (
    WaveformRunner,
    WhisperRunner,
    checked_wave,
    chunk_wave,
    resolve_device,
    waveform_features,
    whisper_features,
)
from emotransfer.seeding import torch_seed, torch_threads

DType = Literal["float32", "bfloat16"]
WhisperInput = Literal["padded", "real_length"]
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
WHISPER_INPUTS = ("padded", "real_length")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.ckpt", "*.h5", "*.msgpack")
METADATA_FILES = ("config.json", "preprocessor_config.json")
# Weights that a checkpoint may lack without changing what the encoder computes.
UNUSED_WEIGHTS = re.compile(r"^(projector|classifier)\.|masked_spec_embed")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


RANDOM_INIT_SEED = 20210606  # any fixed seed: random weights, reproducibly


class HFEncoder:
    """All ``L + 1`` hidden states of a transformers audio encoder, as ``(L + 1, T, D)``.

    Index 0 is the embedding before the first transformer layer and index ``L`` the last
    layer's output (for Whisper after the final layer norm), as in transformers'
    ``output_hidden_states``. ``T`` covers the clip only: padding frames are dropped.

    Whisper: ``"padded"`` runs the standard 30 s input and keeps the ``ceil(samples / 320)``
    frames (50 per second) that cover the clip; ``"real_length"`` runs the encoder's own
    modules on the clip's frames only (much faster on short clips, but the attention no longer
    sees the padding, so the values differ: use one convention for training and inference).
    wav2vec2-style: the model's feature extractor normalises the waveform if its config says
    so; padded batches use attention masks only where that is exact
    (``feat_extract_norm == "layer"``), otherwise equal lengths are batched together.

    Audio longer than ``max_chunk_s`` (Whisper: at most 30 s) is cut into equal chunks that
    are encoded separately and joined along ``T``.

    Args:
        model: a local model folder or a hub id.
        sample_rate: rate in Hz of the waveforms; must equal the model's.
        dtype: ``"float32"`` or ``"bfloat16"`` (computation; outputs are float32).
        whisper_input: ``"padded"`` or ``"real_length"`` (Whisper only).
        max_chunk_s: longest piece encoded at once, in seconds.
        batch_size: pieces per forward pass in :meth:`extract_batch`.
        num_threads: torch threads while this encoder computes, if given (set for each
            extraction call and restored after it: loading or using the encoder leaves the
            process's thread count as it was).
        revision: hub revision (branch, tag or commit); pin a commit to be reproducible.
        trust_remote_code: allow model code from the hub (MERT and other custom models).
        random_init: the same architecture with random weights (seeded): the "no
            pre-training" control of transfer studies.
        device: where the encoder computes: ``"auto"`` (a CUDA GPU where present, else the
            CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ... Not part of the cache key: features
            computed on a GPU serve CPU runs and back (bfloat16 results differ in the last
            bits between devices).

    Usage::

        encoder = HFEncoder(model="shared/models/whisper-base-encoder", dtype="bfloat16")
        states = encoder.extract(wave)             # (7, 50 * seconds, 512)
        batch = encoder.extract_batch([wave, other])
    """

    def __init__(
        self,
        *,
        model: str,
        sample_rate: int = 16000,
        dtype: DType = "float32",
        whisper_input: WhisperInput = "padded",
        max_chunk_s: float = 30.0,
        batch_size: int = 8,
        num_threads: int | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        random_init: bool = False,
        device: str = "auto",
    ) -> None:
        self.model = model
        self.sample_rate = sample_rate
        self.dtype = dtype
        self.whisper_input = whisper_input
        self.max_chunk_s = max_chunk_s
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.random_init = random_init
        self.device = device
        self._runner: WhisperRunner | WaveformRunner | None = None
        self._weights_digest: str | None = None

    def extract(self, wave: np.ndarray) -> np.ndarray:
        """Hidden states ``(L + 1, T, D)`` float32 of one waveform ``(samples,)``."""
        return self.extract_batch([wave])[0]

    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """Hidden states of several waveforms, batched by length; results in input order.

        Raises:
            ValueError: a waveform is empty, not one-dimensional or not finite.
        """
        with torch_threads(self.num_threads):
            return self._extract_batch(waves)

    def _extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        runner = self.load()
        pieces = [
            (index, chunk)
            for index, wave in enumerate(waves)
            for chunk in chunk_wave(checked_wave(wave), self._chunk_samples(runner), runner.hop)
        ]
        order = sorted(range(len(pieces)), key=lambda k: len(pieces[k][1]))
        encoded: list[np.ndarray] = [np.empty(0)] * len(pieces)
        for start in range(0, len(order), max(1, self.batch_size)):
            batch = order[start : start + max(1, self.batch_size)]
            for k, states in zip(batch, runner.encode([pieces[k][1] for k in batch])):
                encoded[k] = states
        per_clip: list[list[np.ndarray]] = [[] for _ in waves]
        for (index, _), states in zip(pieces, encoded):
            per_clip[index].append(states)
        return [np.concatenate(parts, axis=1) for parts in per_clip]

    @property
    def num_layers(self) -> int:
        """``L``, the number of transformer layers (loads the model)."""
        return self.load().num_layers

    @property
    def hidden_size(self) -> int:
        """``D``, the width of every hidden state (loads the model)."""
        return self.load().hidden_size

    def identity(self) -> dict[str, Any]:
        """Everything that changes the output.

        A local folder is named by its folder name plus a digest of its weights and configs
        (so moving it keeps cached features valid); a hub id by its id and revision.
        """
        folder = self._folder()
        return {
            "upstream": "hf",
            "model": folder.resolve().name if folder else self.model,
            "weights": self._digest(folder) if folder else None,
            "revision": None if folder else (self.revision or "main"),
            "sample_rate": self.sample_rate,
            "dtype": self.dtype,
            "whisper_input": self.whisper_input,
            "max_chunk_s": self.max_chunk_s,
            "random_init": self.random_init,
            "transformers": transformers.__version__,
        }

    def __getstate__(self) -> dict[str, Any]:
        # The loaded model stays behind: workers reload it from the folder or the hub.
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._runner = None
        self._weights_digest = None

    def __repr__(self) -> str:
        return f"HFEncoder(model={self.model!r}, dtype={self.dtype!r})"

    def _chunk_samples(self, runner: WhisperRunner | WaveformRunner) -> int:
        if not self.max_chunk_s > 0:
            raise ValueError(f"max_chunk_s must be positive, got {self.max_chunk_s}")
        limit = int(self.max_chunk_s * self.sample_rate)
        if runner.max_samples is not None:
            limit = min(limit, runner.max_samples)
        # Whole encoder frames per chunk, so joined chunks keep the frame grid.
        return max(runner.hop, limit // runner.hop * runner.hop)

    def _folder(self) -> Path | None:
        path = Path(self.model).expanduser()
        if path.is_dir():
            return path
        if path.exists():
            raise NotADirectoryError(f"HFEncoder model {self.model!r} is a file, not a folder")
        if not HUB_ID.match(self.model):
            raise FileNotFoundError(f"HFEncoder model folder not found: {self.model!r}")
        return None

    def _digest(self, folder: Path) -> str:
        if self._weights_digest is None:
            files = sorted({f for pattern in WEIGHT_PATTERNS for f in folder.glob(pattern)})
            files += [folder / name for name in METADATA_FILES if (folder / name).is_file()]
            if not files:
                raise FileNotFoundError(f"HFEncoder model folder {str(folder)!r} has no files")
            self._weights_digest = files_digest(files)
        return self._weights_digest

    def load(self) -> WhisperRunner | WaveformRunner:
        """The loaded runner (model, feature extractor, frame arithmetic), built on first use.

        Raises:
            OSError: the folder or hub id has no readable config or weights.
            ValueError: not a waveform audio encoder, a pickle checkpoint that names code, or
                a sample rate the model does not take.
        """
        if self._runner is None:
            if self.dtype not in DTYPES:
                raise ValueError(f"dtype {self.dtype!r}; known: {list(DTYPES)}")
            if self.whisper_input not in WHISPER_INPUTS:
                raise ValueError(f"whisper_input {self.whisper_input!r}; known: {WHISPER_INPUTS}")
            self._runner = _build_runner(self, self._folder())
        return self._runner


def _build_runner(encoder: HFEncoder, folder: Path | None) -> WhisperRunner | WaveformRunner:
    source = str(folder) if folder else encoder.model
    options: dict[str, Any] = {
        "revision": encoder.revision,
        "trust_remote_code": encoder.trust_remote_code,
    }
    try:
        config = transformers.AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as error:
        where = "folder" if folder else "hub id (no such local folder either)"
        raise OSError(f"cannot read the model config of {source!r} ({where}): {error}") from error
    if folder is not None and any(folder.glob("*.safetensors")):
        options["use_safetensors"] = True
    options["random_init"] = encoder.random_init
    dtype = DTYPES[encoder.dtype]
    device = resolve_device(encoder.device)
    if config.model_type == "whisper":
        features = whisper_features(source, config, options)
        model = _from_pretrained(transformers.WhisperForAudioClassification, source, options)
        runner: WhisperRunner | WaveformRunner = WhisperRunner(
            model.encoder.to(device, dtype), features, encoder.whisper_input == "real_length"
        )
    else:
        model = _from_pretrained(transformers.AutoModel, source, options)
        if model.main_input_name != "input_values" or not hasattr(
            model, "_get_feat_extract_output_lengths"
        ):
            raise ValueError(
                f"{source!r} is a {config.model_type!r} model, not a waveform audio encoder: "
                "HFEncoder takes Whisper or wav2vec2-style models (raw waveform input_values)"
            )
        runner = WaveformRunner(model.to(device, dtype), waveform_features(source, config, options))
    if runner.sample_rate != encoder.sample_rate:
        raise ValueError(
            f"{source!r} expects {runner.sample_rate} Hz audio, "
            f"but sample_rate={encoder.sample_rate}"
        )
    return runner


def _from_pretrained(cls: Any, source: str, options: dict[str, Any]) -> Any:
    if options.get("random_init"):
        config = transformers.AutoConfig.from_pretrained(
            source, revision=options["revision"], trust_remote_code=options["trust_remote_code"]
        )
        maker = getattr(cls, "from_config", None) or cls
        with torch_seed(RANDOM_INIT_SEED):  # the same weights each time; the caller keeps its state
            model = maker(config) if cls is transformers.AutoModel else cls(config)
        return model.eval()
    options = {k: v for k, v in options.items() if k != "random_init"}
    try:
        with _quiet_transformers():
            model, info = cls.from_pretrained(source, output_loading_info=True, **options)
    except pickle.UnpicklingError as error:
        # torch.load(weights_only=True) refused a pickle that names code: never retried.
        lines = [line for line in str(error).splitlines() if "GLOBAL" in line]
        reason = f" ({lines[0].strip()[:200]})" if lines else ""
        raise ValueError(
            f"cannot load the model from {source!r}: its checkpoint is a pickle that names "
            f"code to run, refused{reason}; use a safetensors checkpoint"
        ) from None
    except (OSError, ValueError) as error:
        kind = OSError if isinstance(error, OSError) else ValueError
        raise kind(f"cannot load the model from {source!r}: {error}") from error
    missing = sorted(key for key in info["missing_keys"] if not UNUSED_WEIGHTS.search(key))
    if missing:
        warnings.warn(
            f"{source!r}: {len(missing)} weights missing from the checkpoint were randomly "
            f"initialised, e.g. {missing[:3]}",
            stacklevel=4,
        )
    return model.eval()


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    # The load report lists the decoder and head weights we drop on purpose; missing
    # encoder weights are reported by _from_pretrained instead.
    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()
