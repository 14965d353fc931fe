"""Resemblyzer's pretrained speaker encoder (GE2E, 3-layer LSTM), as frame-level hidden states.

The weights ship inside the ``resemblyzer`` PyPI package, so this upstream works offline.

Example:
    >>> time = np.arange(32000) / 16000
    >>> voice = (0.1 * np.sin(2 * np.pi * 150 * time)).astype("float32")
    >>> states = Resemblyzer().extract(voice)
    >>> states.shape
    (4, 201, 256)
    >>> bool(np.allclose(np.linalg.norm(states[3], axis=1), 1.0, atol=1e-4))
    True
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

with warnings.catch_warnings():
    # webrtcvad, which resemblyzer imports, still imports the deprecated pkg_resources.
    warnings.simplefilter("ignore", UserWarning)
    import resemblyzer
    from resemblyzer import audio, hparams

WEIGHTS = Path(resemblyzer.__file__).parent / "pretrained.pt"


class Resemblyzer:
    """Hidden states of Resemblyzer's ``VoiceEncoder``, shape ``(4, T, 256)`` at 100 frames/s.

    The input is the package's own front end (``resemblyzer.audio.wav_to_mel_spectrogram``:
    40 mel bands of power, 25 ms windows, 10 ms hop, ``T = 1 + samples // 160``), and the
    LSTM runs once over the whole clip. The four states are:

    - 0, 1, 2: the outputs of LSTM layers 1, 2 and 3 (256-d each);
    - 3: the per-frame speaker embedding: ReLU(linear(layer 3)), L2-normalised. At frame
      ``t`` it is exactly the embedding ``VoiceEncoder`` gives for the clip up to ``t``.

    This departs from transformers' convention (index 0 = the input embedding): the 40-d mel
    input has another width and is left out, so index 0 is already a layer's output.

    Preprocessing: like ``resemblyzer.preprocess_wav``, quiet clips are raised to -30 dBFS
    (the level the model was trained at; louder clips are left alone). Its VAD trimming of long
    silences is off by default, because it makes ``T`` no longer follow the clip's duration;
    ``trim_silences=True`` turns it on (a clip with no voice found is kept whole). Resemblyzer's
    ``embed_utterance`` averages 1.6 s windows instead; pooling state 3 over frames is the
    closest frame-level equivalent.

    Args:
        normalize_volume: raise quiet clips to -30 dBFS as in training.
        trim_silences: shorten silences longer than ~0.2 s with webrtcvad, as in training.
        sample_rate: rate of the input; must be 16000, the model's rate.

    Attributes:
        num_layers: 3 (plus the embedding state: ``L + 1 = 4``).
        hidden_size: 256.
    """

    num_layers: int = hparams.model_num_layers
    hidden_size: int = hparams.model_hidden_size

    def __init__(
        self, *, normalize_volume: bool = True, trim_silences: bool = False,
        sample_rate: int = hparams.sampling_rate,
    ) -> None:  # fmt: skip
        self.normalize_volume = normalize_volume
        self.trim_silences = trim_silences
        self.sample_rate = sample_rate
        self._network: _FrameEncoder | None = None

    def extract(self, wave: np.ndarray) -> np.ndarray:
        """Hidden states ``(4, T, 256)`` float32 of a 16 kHz waveform ``(samples,)``."""
        if self.sample_rate != 16000:
            raise ValueError(f"resemblyzer takes 16 kHz audio, sample_rate={self.sample_rate}")
        wave = self._preprocess(wave)
        mel = audio.wav_to_mel_spectrogram(wave)  # (T, 40)
        with torch.inference_mode():
            states = self._load()(torch.from_numpy(mel)[None])
        return states[:, 0].numpy()

    def extract_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`extract` of each waveform (the LSTM is small: no batching needed)."""
        return [self.extract(wave) for wave in waves]

    def identity(self) -> dict[str, Any]:
        return {
            "upstream": "resemblyzer",
            "normalize_volume": self.normalize_volume,
            "trim_silences": self.trim_silences,
            "sample_rate": self.sample_rate,
            "resemblyzer": importlib.metadata.version("resemblyzer"),
            "weights": _weights_digest(),
        }

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if not key.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._network = None

    def _preprocess(self, wave: np.ndarray) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.size == 0:
            raise ValueError(
                f"expected a non-empty mono waveform (samples,), got shape {wave.shape}"
            )
        if not np.all(np.isfinite(wave)):
            raise ValueError("waveform has NaN or infinite samples")
        if self.normalize_volume and np.any(wave):
            wave = audio.normalize_volume(wave, hparams.audio_norm_target_dBFS, increase_only=True)
        if self.trim_silences:
            trimmed = audio.trim_long_silences(wave)
            wave = trimmed if trimmed.size else wave
        return wave.astype(np.float32)

    def _load(self) -> _FrameEncoder:
        if self._network is None:
            self._network = _FrameEncoder.pretrained(WEIGHTS)
        return self._network


class _FrameEncoder(torch.nn.Module):
    """``VoiceEncoder``'s network with one LSTM per layer, so every layer's output is seen."""

    def __init__(self) -> None:
        super().__init__()
        sizes = [hparams.mel_n_channels] + [hparams.model_hidden_size] * hparams.model_num_layers
        self.layers = torch.nn.ModuleList(
            torch.nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(sizes) - 1)
        )
        self.linear = torch.nn.Linear(hparams.model_hidden_size, hparams.model_embedding_size)

    @classmethod
    def pretrained(cls, path: Path) -> _FrameEncoder:
        # weights_only: the checkpoint is plain tensors, so no pickled code is ever run.
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        network = cls()
        for index, layer in enumerate(network.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(layer, f"{name}_l0").data.copy_(state[f"lstm.{name}_l{index}"])
        network.linear.load_state_dict(
            {"weight": state["linear.weight"], "bias": state["linear.bias"]}
        )
        return network.eval()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """``(B, T, 40)`` mels to ``(4, B, T, 256)`` states."""
        states, hidden = [], mels
        for layer in self.layers:
            hidden, _ = layer(hidden)
            states.append(hidden)
        embedding = torch.relu(self.linear(hidden))
        states.append(embedding / embedding.norm(dim=-1, keepdim=True).clamp_min(1e-12))
        return torch.stack(states)


@cache
def _weights_digest() -> str:
    digest = hashlib.sha256(WEIGHTS.read_bytes())
    return digest.hexdigest()[:16]
