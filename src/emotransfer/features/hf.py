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
import hashlib
import math
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import transformers

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
        num_threads: ``torch.set_num_threads`` before inference (process-wide), if given.
        revision: hub revision (branch, tag or commit); pin a commit to be reproducible.
        trust_remote_code: allow model code from the hub (MERT and other custom models).
        random_init: the same architecture with random weights (seeded): the "no
            pre-training" control of transfer studies.

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
        self._runner: _Whisper | _Wav2Vec2 | None = None
        self._weights_digest: str | None = None

    def extract(self, wave: np.ndarray) -> np.ndarray:
        """Hidden states ``(L + 1, T, D)`` float32 of one waveform ``(samples,)``."""
        return self.extract_batch([wave])[0]

    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """Hidden states of several waveforms, batched by length; results in input order.

        Raises:
            ValueError: a waveform is empty, not one-dimensional or not finite.
        """
        runner = self._load()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        pieces = [
            (index, chunk)
            for index, wave in enumerate(waves)
            for chunk in _chunks(_checked(wave), self._chunk_samples(runner), runner.hop)
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
        return self._load().num_layers

    @property
    def hidden_size(self) -> int:
        """``D``, the width of every hidden state (loads the model)."""
        return self._load().hidden_size

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

    def _chunk_samples(self, runner: _Whisper | _Wav2Vec2) -> int:
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
            digest = hashlib.sha256()
            for file in files:
                digest.update(file.name.encode())
                with open(file, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
            self._weights_digest = digest.hexdigest()[:16]
        return self._weights_digest

    def _load(self) -> _Whisper | _Wav2Vec2:
        if self._runner is None:
            if self.dtype not in DTYPES:
                raise ValueError(f"dtype {self.dtype!r}; known: {list(DTYPES)}")
            if self.whisper_input not in WHISPER_INPUTS:
                raise ValueError(f"whisper_input {self.whisper_input!r}; known: {WHISPER_INPUTS}")
            self._runner = _build_runner(self, self._folder())
        return self._runner


def _build_runner(encoder: HFEncoder, folder: Path | None) -> _Whisper | _Wav2Vec2:
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
    if config.model_type == "whisper":
        features = _whisper_features(source, config, options)
        model = _from_pretrained(transformers.WhisperForAudioClassification, source, options)
        runner: _Whisper | _Wav2Vec2 = _Whisper(
            model.encoder.to(dtype), features, encoder.whisper_input == "real_length"
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
        runner = _Wav2Vec2(model.to(dtype), _waveform_features(source, config, options))
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
        torch.manual_seed(RANDOM_INIT_SEED)
        maker = getattr(cls, "from_config", None) or cls
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


def _whisper_features(
    source: str, config: Any, options: dict[str, Any]
) -> transformers.WhisperFeatureExtractor:
    try:
        return transformers.WhisperFeatureExtractor.from_pretrained(
            source, revision=options["revision"]
        )
    except OSError:  # no preprocessor_config.json: Whisper's standard front end
        return transformers.WhisperFeatureExtractor(feature_size=config.num_mel_bins)


def _waveform_features(source: str, config: Any, options: dict[str, Any]) -> Any:
    try:
        return transformers.AutoFeatureExtractor.from_pretrained(
            source, revision=options["revision"], trust_remote_code=options["trust_remote_code"]
        )
    except (OSError, ValueError):
        # No preprocessor config: models with layer-normed conv features were trained on
        # normalised waveforms (wav2vec2-large-lv60 style), group-normed ones were not.
        layer_norm = getattr(config, "feat_extract_norm", "group") == "layer"
        return transformers.Wav2Vec2FeatureExtractor(
            do_normalize=layer_norm, return_attention_mask=layer_norm
        )


class _Whisper:
    """Whisper encoder on log-mels; ``encode`` takes pieces of at most 30 s."""

    def __init__(
        self, encoder: Any, features: transformers.WhisperFeatureExtractor, real_length: bool
    ) -> None:
        self.encoder = encoder
        self.features = features
        self.real_length = real_length
        self.sample_rate = int(features.sampling_rate)
        self.mels_per_frame = encoder.conv1.stride[0] * encoder.conv2.stride[0]
        self.hop = features.hop_length * self.mels_per_frame  # samples per encoder frame
        self.max_samples = min(
            int(features.n_samples), encoder.config.max_source_positions * self.hop
        )
        self.num_layers = len(encoder.layers)
        self.hidden_size = int(encoder.config.d_model)

    @torch.inference_mode()
    def encode(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        mels = self.features(
            waves, sampling_rate=self.sample_rate, return_tensors="pt"
        ).input_features.to(self.encoder.dtype)
        frames = [math.ceil(len(wave) / self.hop) for wave in waves]
        if self.real_length:
            states = self._real_length(mels, frames)
        else:
            states = self.encoder(mels, output_hidden_states=True).hidden_states
        stacked = torch.stack(states, dim=1)  # (B, L + 1, T, D)
        return [stacked[b, :, :n].float().numpy() for b, n in enumerate(frames)]

    def _real_length(self, mels: torch.Tensor, frames: list[int]) -> tuple[torch.Tensor, ...]:
        """WhisperEncoder.forward without its fixed 30 s input: same modules, fewer frames."""
        encoder, longest = self.encoder, max(frames)
        mels = mels[:, :, : longest * self.mels_per_frame].clone()
        for b, n in enumerate(frames):
            # Zeros past a clip's end make its last frames equal to a batch of one, where the
            # convolutions pad with zeros.
            mels[b, :, n * self.mels_per_frame :] = 0
        hidden = torch.nn.functional.gelu(encoder.conv1(mels))
        hidden = torch.nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
        hidden = hidden + encoder.embed_positions.weight[:longest]
        mask = _key_padding_mask(frames, hidden.dtype)
        states = [hidden]
        for layer in encoder.layers:
            output = layer(hidden, mask)
            hidden = output[0] if isinstance(output, tuple) else output
            states.append(hidden)
        # transformers' convention: the last hidden state is the final layer-normed output.
        states[-1] = encoder.layer_norm(hidden)
        return tuple(states)


def _key_padding_mask(frames: list[int], dtype: torch.dtype) -> torch.Tensor | None:
    longest = max(frames)
    if min(frames) == longest:
        return None
    padding = torch.arange(longest)[None, :] >= torch.tensor(frames)[:, None]  # (B, T)
    mask = torch.zeros(len(frames), 1, longest, longest, dtype=dtype)
    return mask.masked_fill(padding[:, None, None, :], torch.finfo(dtype).min)


class _Wav2Vec2:
    """wav2vec2-style encoder on raw waveforms (wav2vec2, HuBERT, WavLM, data2vec, MERT)."""

    def __init__(self, model: Any, features: Any) -> None:
        self.model = model
        self.features = features
        self.sample_rate = int(features.sampling_rate)
        config = model.config
        # Padding changes group-normed conv features, so only layer-normed models batch padded.
        self.masked = getattr(config, "feat_extract_norm", None) == "layer"
        kernels = list(getattr(config, "conv_kernel", [1]))
        strides = list(getattr(config, "conv_stride", [1]))
        self.hop = math.prod(strides)
        self.min_samples = 1
        for kernel, stride in zip(reversed(kernels), reversed(strides)):
            self.min_samples = (self.min_samples - 1) * stride + kernel
        self.max_samples: int | None = None
        self.num_layers = int(config.num_hidden_layers)
        self.hidden_size = int(config.hidden_size)

    @torch.inference_mode()
    def encode(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        waves = [np.pad(w, (0, max(0, self.min_samples - len(w)))) for w in waves]
        results: list[np.ndarray] = [np.empty(0)] * len(waves)
        for group in self._groups(waves):
            for index, states in zip(group, self._forward([waves[i] for i in group])):
                results[index] = states
        return results

    def _groups(self, waves: list[np.ndarray]) -> list[list[int]]:
        if self.masked:
            return [list(range(len(waves)))]
        by_length: dict[int, list[int]] = {}
        for index, wave in enumerate(waves):
            by_length.setdefault(len(wave), []).append(index)
        return list(by_length.values())

    def _forward(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        inputs = self.features(
            waves,
            sampling_rate=self.sample_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = inputs["attention_mask"] if self.masked else None
        values = inputs["input_values"].to(self.model.dtype)
        states = self.model(values, attention_mask=mask, output_hidden_states=True).hidden_states
        stacked = torch.stack(states, dim=1)  # (B, L + 1, T, D)
        lengths = self.model._get_feat_extract_output_lengths(torch.tensor([len(w) for w in waves]))
        return [stacked[b, :, : int(n)].float().numpy() for b, n in enumerate(lengths)]


def _checked(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"expected a non-empty mono waveform (samples,), got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise ValueError("waveform has NaN or infinite samples")
    return wave


def _chunks(wave: np.ndarray, limit: int, frame: int) -> list[np.ndarray]:
    """Near-equal pieces of at most ``limit`` samples, in whole ``frame``s (``limit`` is a
    multiple of ``frame``), so no short tail is left over."""
    count = math.ceil(len(wave) / limit)
    size = math.ceil(math.ceil(len(wave) / count) / frame) * frame
    return [wave[start : start + size] for start in range(0, len(wave), size)]
