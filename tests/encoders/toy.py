"""Out-of-tree components for the contract tests, reached only as ``module:Class`` plugins."""

from __future__ import annotations

import numpy as np
import torch

from emotransfer.encoders.base import Encoder, EncoderOutput, frame_mask
from emotransfer.models.bodies import Body
from emotransfer.models.fusion import Fusion


class FrameEnergy(Encoder):
    """A toy trainable encoder: 20 ms frames -> (log energy, zero-crossing rate) -> one linear
    layer; 2 hidden states (the frame features and the layer's output)."""

    def __init__(self, *, hidden_size: int = 8, sample_rate: int = 16000) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.num_layers = 1
        self.hidden_size = hidden_size
        self.hop = sample_rate // 50
        self.frame_rate = 50.0
        self.embed = torch.nn.Linear(2, hidden_size)
        self.layer = torch.nn.Sequential(torch.nn.Linear(hidden_size, hidden_size), torch.nn.Tanh())

    def prepare(self, items: list[np.ndarray]) -> dict[str, torch.Tensor]:
        frames = [max(1, len(w) // self.hop) for w in items]
        values = torch.zeros(len(items), max(frames), 2)
        for row, (wave, count) in enumerate(zip(items, frames)):
            cut = np.resize(np.asarray(wave, np.float32), count * self.hop).reshape(count, -1)
            energy = np.log(np.mean(cut**2, axis=1) + 1e-8)
            crossings = np.mean(np.abs(np.diff(np.sign(cut), axis=1)) > 0, axis=1)
            values[row, :count] = torch.from_numpy(np.stack([energy / 10, crossings], 1))
        return {"values": values, "frames": torch.tensor(frames)}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        embedded = self.embed(batch["values"])
        states = torch.stack([embedded, self.layer(embedded)], dim=1)
        return EncoderOutput(states, frame_mask(batch["frames"], states.shape[2]))

    def front_end_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.embed.parameters())

    def blocks(self) -> list[torch.nn.Module]:
        return [self.layer]


class GatedFusion(Fusion):
    """A toy fusion: each modality's vector scaled by a learned gate, then concatenated."""

    def __init__(self, *, sizes: dict[str, int]) -> None:
        super().__init__(sizes=sizes)
        self.gates = torch.nn.Parameter(torch.ones(len(self.sizes)))

    def forward(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [gate * pooled[name] for gate, name in zip(self.gates, self.sizes)]
        return torch.cat(parts, dim=-1)


class TemporalConv(Body):
    """A toy frame-level body: a 1-D convolution over time (kernel 3, stride 2) and a ReLU;
    the mask follows the stride."""

    def __init__(self, *, input_size: int, channels: int = 6) -> None:
        super().__init__(input_size=input_size)
        self.output_size = channels
        self.conv = torch.nn.Conv1d(input_size, channels, kernel_size=3, stride=2, padding=1)

    def forward(
        self, frames: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        out = torch.relu(self.conv(frames.transpose(1, 2))).transpose(1, 2)
        return out, mask[:, ::2][:, : out.shape[1]]


class AttentionFusion(Fusion):
    """A toy frame-level fusion: one learned query attends over every modality's real frames
    (the mask respected), the attended vectors concatenated."""

    takes = "frames"

    def __init__(self, *, sizes: dict[str, int]) -> None:
        super().__init__(sizes=sizes)
        self.queries = torch.nn.ParameterDict(
            {name: torch.nn.Parameter(torch.zeros(size)) for name, size in self.sizes.items()}
        )

    def forward(self, frames: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        parts = []
        for name in self.sizes:
            sequence, mask = frames[name]
            scores = (sequence @ self.queries[name]).masked_fill(~mask.bool(), -1e9)
            parts.append((torch.softmax(scores, dim=-1).unsqueeze(-1) * sequence).sum(1))
        return torch.cat(parts, dim=-1)


class CharText(Encoder):
    """A toy text encoder: characters -> embeddings -> one linear layer; 2 hidden states, one
    frame per character (a stand-in for a Hugging Face text encoder)."""

    modality = "text"

    def __init__(self, *, hidden_size: int = 8, vocabulary: int = 64) -> None:
        super().__init__()
        self.num_layers = 1
        self.hidden_size = hidden_size
        self.frame_rate = 0.0
        self.vocabulary = vocabulary
        self.embed = torch.nn.Embedding(vocabulary, hidden_size)
        self.layer = torch.nn.Sequential(torch.nn.Linear(hidden_size, hidden_size), torch.nn.Tanh())

    def prepare(self, items: list[str]) -> dict[str, torch.Tensor]:
        lengths = [max(1, len(text)) for text in items]
        ids = torch.zeros(len(items), max(lengths), dtype=torch.long)
        for row, text in enumerate(items):
            ids[row, : len(text)] = torch.tensor([ord(c) % self.vocabulary for c in text])
        return {"ids": ids, "frames": torch.tensor(lengths)}

    def blank_item(self) -> str:
        return ""

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        embedded = self.embed(batch["ids"])
        states = torch.stack([embedded, self.layer(embedded)], dim=1)
        return EncoderOutput(states, frame_mask(batch["frames"], states.shape[2]))

    def blocks(self) -> list[torch.nn.Module]:
        return [self.layer]
