"""Any transformers audio encoder (Whisper, wav2vec2, HuBERT, WavLM, data2vec, MERT-style) as
a trainable :class:`~emotransfer.encoders.base.Encoder`.

Loading goes through :meth:`emotransfer.features.hf.HFEncoder.load`, the same path as frozen
feature extraction, so a model folder or hub id, ``revision``, ``trust_remote_code`` and
``random_init`` mean the same in both; weights train in float32 (mixed precision is the
Trainer's autocast).

Shapes: ``prepare(waves)`` -> ``{"mels" (B, M, 3000) | "values" (B, S) + "mask" (B, S),
"frames" (B,)}``; ``forward`` -> states ``(B, L + 1, T, D)``, mask ``(B, T)``.

(``tests/encoders/test_hf_audio.py`` checks the states against the frozen extractor's.)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emotransfer.encoders.base import (
    Encoder,
    EncoderOutput,
    frame_mask,
    module_list,
    whole_or_mask,
)
from emotransfer.features.hf import HFEncoder, WhisperInput
from emotransfer.io import write_folder_atomic

# Modules below the first transformer layer, per architecture family.
FRONT_ENDS = ("feature_extractor", "feature_projection", "conv1", "conv2", "embed_positions")
FRONT_END_PARAMETERS = ("masked_spec_embed",)
# Where the transformer layers sit (Whisper, wav2vec2-style with and without an encoder).
BLOCKS = ("layers", "encoder.layers", "encoder.layer")


class HFAudioEncoder(Encoder):
    """A transformers audio encoder with gradients.

    Args:
        model: a local model folder or a hub id.
        whisper_input: ``"real_length"`` (the clip's frames only) or ``"padded"`` (30 s).
        sample_rate: rate in Hz of the waveforms; must equal the model's.
        revision: hub revision.
        trust_remote_code: allow model code from the hub (the caller's decision).
        random_init: the architecture with seeded random weights (no pre-training).
    """

    def __init__(
        self,
        *,
        model: str,
        whisper_input: WhisperInput = "real_length",
        sample_rate: int = 16000,
        revision: str | None = None,
        trust_remote_code: bool = False,
        random_init: bool = False,
    ) -> None:
        super().__init__()
        self.model = model
        self.whisper_input = whisper_input
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.random_init = random_init
        # Built on the CPU: the Trainer's accelerator (or the caller) places the model.
        self.runner = HFEncoder(model=model, sample_rate=sample_rate, whisper_input=whisper_input,
                                revision=revision, trust_remote_code=trust_remote_code,
                                random_init=random_init, device="cpu").load()  # fmt: skip
        self.whisper = hasattr(self.runner, "encoder")
        self.module = self.runner.encoder if self.whisper else self.runner.model
        self.module.float()
        self.sample_rate = int(self.runner.sample_rate)
        self.num_layers = int(self.runner.num_layers)
        self.hidden_size = int(self.runner.hidden_size)
        self.frame_rate = self.sample_rate / self.runner.hop

    def prepare(self, items: list[np.ndarray]) -> dict[str, torch.Tensor]:
        runner = self.runner
        if self.whisper:
            frames = [math.ceil(len(w) / runner.hop) for w in items]
            return {"mels": runner.log_mels(items), "frames": torch.tensor(frames)}
        waves = [np.pad(w, (0, max(0, runner.min_samples - len(w)))) for w in items]
        inputs = runner.features(waves, sampling_rate=runner.sample_rate, padding=True,
                                 return_attention_mask=True, return_tensors="pt")  # fmt: skip
        lengths = self.module._get_feat_extract_output_lengths(
            torch.tensor([len(w) for w in waves])
        )
        return {"values": inputs["input_values"], "mask": inputs["attention_mask"],
                "frames": lengths}  # fmt: skip

    def export_inputs(self, item: np.ndarray) -> dict[str, torch.Tensor]:
        """The clip's waveform, or Whisper's log-mel frames: cut to the clip (real length),
        or the 30 s input and the count of the clip's ``real`` frames (padded)."""
        batch = self.prepare([item])
        if not self.whisper:
            return {"values": batch["values"]}
        if self.whisper_input != "real_length":  # 30 s always: the real frames are counted
            return {"mels": batch["mels"], "real": batch["frames"]}
        return {"mels": batch["mels"][:, :, : int(batch["frames"][0]) * self.runner.mels_per_frame]}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        if "frames" not in batch:  # one clip of an exported graph: its time axis decides
            return self._whole(batch)
        frames = batch["frames"]
        if self.whisper and self.whisper_input == "real_length":
            states = self.runner.real_length_states(batch["mels"], [int(n) for n in frames])
        elif self.whisper:
            states = self.module(batch["mels"], output_hidden_states=True).hidden_states
        else:
            states = self.module(batch["values"], attention_mask=batch["mask"],
                                 output_hidden_states=True).hidden_states  # fmt: skip
        longest = int(frames.max())
        stacked = torch.stack([s[:, :longest] for s in states], dim=1)
        return EncoderOutput(stacked, frame_mask(frames, longest))

    def _whole(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        """One clip: every frame real, or (padded Whisper) its ``real`` count of them."""
        if not self.whisper:
            states = self.module(batch["values"], output_hidden_states=True).hidden_states
        elif "real" in batch:
            states = self.module(batch["mels"], output_hidden_states=True).hidden_states
        else:
            mels = batch["mels"]
            frames = mels.shape[2] // self.runner.mels_per_frame
            states = self.runner.real_length_states(mels, [frames])
        stacked = torch.stack(states, dim=1)
        return EncoderOutput(stacked, whole_or_mask(batch.get("real"), stacked[:, 0]))

    def front_end_parameters(self) -> list[torch.nn.Parameter]:
        parameters = []
        for name in FRONT_ENDS:
            part = getattr(self.module, name, None)
            if isinstance(part, torch.nn.Module):
                parameters += list(part.parameters())
        for name in FRONT_END_PARAMETERS:
            value = getattr(self.module, name, None)
            if isinstance(value, torch.nn.Parameter):
                parameters.append(value)
        return parameters

    def blocks(self) -> list[torch.nn.Module]:
        return module_list(self.module, BLOCKS, self.model)

    def adaptable(self) -> torch.nn.Module:
        return self.module

    def save_folder(self, folder: Path, state: dict[str, torch.Tensor] | None = None) -> Path:
        """Write the encoder (``state``: e.g. LoRA merged into the weights; default: its own)
        as a transformers model folder that :class:`~emotransfer.features.hf.HFEncoder`
        loads, atomically (:func:`~emotransfer.io.write_folder_atomic`). A Whisper encoder keeps
        the ``encoder.`` prefix of a full Whisper checkpoint."""
        fresh = HFEncoder(model=self.model, whisper_input=self.whisper_input,
                          revision=self.revision, trust_remote_code=self.trust_remote_code,
                          random_init=self.random_init, device="cpu").load()  # fmt: skip
        plain = fresh.encoder if hasattr(fresh, "encoder") else fresh.model
        plain.float().load_state_dict(state if state is not None else self.module.state_dict(),
                                      strict=True)  # fmt: skip
        return save_encoder_folder(plain, fresh.features, folder)


def save_encoder_folder(module: torch.nn.Module, features: Any, folder: Path) -> Path:
    """Write a transformers encoder (+ its feature extractor) as a model folder, atomically."""
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    if module.config.model_type == "whisper":
        state = {f"encoder.{k}": v for k, v in state.items()}

    def write(staging: Path) -> None:
        module.save_pretrained(staging, state_dict=state, safe_serialization=True)
        features.save_pretrained(staging)

    write_folder_atomic(folder, write)
    return folder
