"""The two kinds of loaded transformers audio encoder behind
:class:`~emotransfer.features.hf.HFEncoder` (frozen features) and
:class:`~emotransfer.encoders.hf_audio.HFAudioEncoder` (trainable): Whisper on log-mels and
wav2vec2-style models on raw waveforms, with their feature extractors and frame arithmetic.

A runner holds the loaded module (``encoder`` for Whisper, ``model`` otherwise), its feature
extractor (``features``), ``sample_rate``, ``hop`` (samples per encoder frame), ``num_layers``
(``L``) and ``hidden_size`` (``D``), and ``encode(waves)`` returning ``(L + 1, T, D)`` arrays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import transformers


def whisper_features(
    source: str, config: transformers.PretrainedConfig, options: dict[str, Any]
) -> transformers.WhisperFeatureExtractor:
    try:
        return transformers.WhisperFeatureExtractor.from_pretrained(
            source, revision=options["revision"]
        )
    except OSError:  # no preprocessor_config.json: Whisper's standard front end
        return transformers.WhisperFeatureExtractor(feature_size=config.num_mel_bins)


def waveform_features(
    source: str, config: transformers.PretrainedConfig, options: dict[str, Any]
) -> Any:
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


class WhisperRunner:
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

    def log_mels(self, waves: list[np.ndarray]) -> torch.Tensor:
        """``(B, M, 2 T)`` log-mel input: Whisper's 30 s, or for real-length input only as long
        as the longest clip plus the STFT's reach. Each clip's own frames are the same either
        way (the log-mel of zeros past its end, the same maximum), computed in a tenth of the
        time for a 3 s clip."""
        if not self.real_length:
            return self.features(waves, sampling_rate=self.sample_rate,
                                 return_tensors="pt").input_features  # fmt: skip
        longest = max(len(wave) for wave in waves) + 4 * int(self.features.n_fft)
        length = min(-(-longest // self.hop) * self.hop, int(self.features.n_samples))
        return self.features(waves, sampling_rate=self.sample_rate, return_tensors="pt",
                             padding="max_length", max_length=length).input_features  # fmt: skip

    @torch.inference_mode()
    def encode(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        mels = self.log_mels(waves).to(module_device(self.encoder), self.encoder.dtype)
        frames = [math.ceil(len(wave) / self.hop) for wave in waves]
        if self.real_length:
            states = self.real_length_states(mels, frames)
        else:
            states = self.encoder(mels, output_hidden_states=True).hidden_states
        stacked = torch.stack(states, dim=1)  # (B, L + 1, T, D)
        return [stacked[b, :, :n].float().cpu().numpy() for b, n in enumerate(frames)]

    def real_length_states(self, mels: torch.Tensor, frames: list[int]) -> tuple[torch.Tensor, ...]:
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
        mask = _key_padding_mask(frames, hidden.dtype, hidden.device)
        states = [hidden]
        for layer in encoder.layers:
            output = layer(hidden, mask)
            hidden = output[0] if isinstance(output, tuple) else output
            states.append(hidden)
        # transformers' convention: the last hidden state is the final layer-normed output.
        states[-1] = encoder.layer_norm(hidden)
        return tuple(states)


def _key_padding_mask(
    frames: list[int], dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:  # fmt: skip
    longest = max(frames)
    if min(frames) == longest:
        return None
    lengths = torch.tensor(frames, device=device)
    padding = torch.arange(longest, device=device)[None, :] >= lengths[:, None]  # (B, T)
    mask = torch.zeros(len(frames), 1, longest, longest, dtype=dtype, device=device)
    return mask.masked_fill(padding[:, None, None, :], torch.finfo(dtype).min)


class WaveformRunner:
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
        device = module_device(self.model)
        mask = inputs["attention_mask"].to(device) if self.masked else None
        values = inputs["input_values"].to(device, self.model.dtype)
        states = self.model(values, attention_mask=mask, output_hidden_states=True).hidden_states
        stacked = torch.stack(states, dim=1)  # (B, L + 1, T, D)
        lengths = self.model._get_feat_extract_output_lengths(torch.tensor([len(w) for w in waves]))
        return [stacked[b, :, : int(n)].float().cpu().numpy() for b, n in enumerate(lengths)]


def module_device(module: torch.nn.Module) -> torch.device:
    """Where ``module``'s weights are (inputs go there)."""
    return next(module.parameters()).device


def resolve_device(device: str) -> torch.device:
    """``"auto"``: CUDA where a GPU is present, else the CPU; any other torch device name as
    it is, refused when it names CUDA on a machine without one.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r}: not a torch device ({error})") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: this machine has no CUDA device; use auto or cpu")
    return chosen


def checked_wave(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"expected a non-empty mono waveform (samples,), got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise ValueError("waveform has NaN or infinite samples")
    return wave


def chunk_wave(wave: np.ndarray, limit: int, frame: int) -> list[np.ndarray]:
    """Near-equal pieces of at most ``limit`` samples, in whole ``frame``s (``limit`` is a
    multiple of ``frame``), so no short tail is left over."""
    count = math.ceil(len(wave) / limit)
    size = math.ceil(math.ceil(len(wave) / count) / frame) * frame
    return [wave[start : start + size] for start in range(0, len(wave), size)]
