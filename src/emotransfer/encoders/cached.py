"""Hidden states computed once: the items are an encoder's own outputs, per clip.

When the audio encoder is frozen (``finetune.strategy: frozen``), its output for a clip never
changes, so a body and a head can train on the states computed once before the first epoch
(``finetune.cache_states: true``) instead of running the encoder every epoch: a trainable
architecture on frozen whisper frames then costs one encoder pass per clip. This encoder
stands in for the real one while training: its items are the states ``(T, L + 1, D)``
(frames first, so batches are length-sorted and crops cut frames), and it returns them as
the real encoder would, ``(B, L + 1, T, D)`` with the mask of real frames. It has no weights:
the model's other parts (layer mix, body, pooling, heads) have the same names as on the real
encoder, so the saved weights load into the model ``predict`` builds with the real encoder.

Example:
    >>> import numpy as np
    >>> cached = CachedStates(num_layers=2, hidden_size=4, frame_rate=50.0)
    >>> batch = cached.prepare([np.ones((5, 3, 4), "float16"), np.ones((2, 3, 4), "float16")])
    >>> output = cached(batch)
    >>> tuple(output.states.shape), output.mask.sum(1).tolist()
    ((2, 3, 5, 4), [5, 2])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emotransfer.encoders.base import Encoder, EncoderOutput, frame_mask


class CachedStates(Encoder):
    """The states of an encoder computed beforehand (see the module).

    Args:
        num_layers: ``L`` of the encoder the states came from.
        hidden_size: ``D``.
        frame_rate: frames per second of the states (the crop of ``max_seconds`` uses it).
    """

    def __init__(self, *, num_layers: int, hidden_size: int, frame_rate: float) -> None:
        super().__init__()
        self.num_layers, self.hidden_size, self.frame_rate = num_layers, hidden_size, frame_rate
        self.sample_rate = None

    @property
    def item_rate(self) -> float:
        """Frames per second: the items are states, frames first."""
        return self.frame_rate

    def prepare(self, items: list[Any]) -> dict[str, torch.Tensor]:
        for item in items:
            shape = getattr(item, "shape", None)
            if (
                shape is None
                or len(shape) != 3
                or tuple(shape[1:]) != (self.num_states, self.hidden_size)
            ):
                raise ValueError(f"cached states of shape (T, {self.num_states}, "
                                 f"{self.hidden_size}) expected, got {shape}")  # fmt: skip
        longest = max(len(item) for item in items)
        states = torch.zeros(len(items), self.num_states, longest, self.hidden_size)
        for row, item in enumerate(items):
            frames = torch.from_numpy(np.asarray(item, dtype=np.float32))  # (T, L + 1, D)
            states[row, :, : len(item)] = frames.transpose(0, 1)
        return {"states": states, "frames": torch.as_tensor([len(item) for item in items])}

    def blank_item(self) -> np.ndarray:
        return np.zeros((1, self.num_states, self.hidden_size), dtype=np.float16)

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        frames = batch["frames"]
        return EncoderOutput(batch["states"], frame_mask(frames, batch["states"].shape[2]))


@torch.no_grad()
def cache_states(
    encoder: Encoder, waves: list[np.ndarray], *, batch_size: int = 8, dtype: Any = np.float16
) -> list[np.ndarray]:
    """``encoder``'s states of every clip, ``(T_i, L + 1, D)`` each (real frames only), in
    ``dtype``; clips go through in length-sorted batches, in eval mode. A missing item
    (``None``) stays ``None``."""
    encoder.eval()
    given = [i for i, wave in enumerate(waves) if wave is not None]  # None: a missing item
    order = np.array(given, dtype=int)[np.argsort([len(waves[i]) for i in given])]
    result: list[Any] = [None] * len(waves)
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        output = encoder(encoder.prepare([waves[i] for i in rows]))
        for position, row in enumerate(rows):
            real = int(output.mask[position].sum())
            states = output.states[position, :, :real].transpose(0, 1)  # (T, L + 1, D)
            result[row] = states.float().cpu().numpy().astype(dtype)
    return result
