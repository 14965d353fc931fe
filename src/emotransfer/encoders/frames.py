"""Frame features of another modality (video: per-frame vectors of any face or video model,
computed outside emotransfer) as an :class:`~emotransfer.encoders.base.Encoder`: one hidden
state, the features themselves (``L = 0``), padded into batches with their mask. Items are
``(T, D)`` arrays or the paths of their files (:func:`emotransfer.data.frames.load_frames`).

Shapes: ``prepare(items)`` -> ``{"frames" (B, T, D), "lengths" (B,)}``; ``forward`` -> states
``(B, 1, T, D)``, mask ``(B, T)``.

Example:
    >>> import numpy as np
    >>> encoder = FrameFeatures(hidden_size=4)
    >>> output = encoder(encoder.prepare([np.ones((3, 4)), np.ones((5, 4))]))
    >>> tuple(output.states.shape), output.mask.sum(dim=1).tolist()
    ((2, 1, 5, 4), [3, 5])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from emotransfer.data.frames import load_frames
from emotransfer.encoders.base import Encoder, EncoderOutput, frame_mask


class FrameFeatures(Encoder):
    """Weightless: the features are the encoder's one hidden state.

    Args:
        hidden_size: ``D``, the width of every frame vector.
        frame_rate: frames per second of the features (recorded; 0.0 if unknown).
    """

    modality = "video"

    def __init__(self, *, hidden_size: int, frame_rate: float = 0.0) -> None:
        super().__init__()
        if hidden_size < 1:
            raise ValueError(f"hidden_size {hidden_size}: the frame vectors' width, >= 1")
        self.num_layers = 0
        self.hidden_size = int(hidden_size)
        self.frame_rate = float(frame_rate)

    def prepare(self, items: list[Any]) -> dict[str, torch.Tensor]:
        arrays = [load_frames(item) if isinstance(item, str | Path)
                  else np.asarray(item, dtype=np.float32) for item in items]  # fmt: skip
        for array in arrays:
            if array.ndim != 2 or array.shape[1] != self.hidden_size:
                raise ValueError(f"frame features of shape {array.shape}: this encoder takes "
                                 f"(T, {self.hidden_size}) arrays")  # fmt: skip
        longest = max(len(array) for array in arrays)
        frames = torch.zeros(len(arrays), longest, self.hidden_size)
        for row, array in enumerate(arrays):
            frames[row, : len(array)] = torch.from_numpy(np.ascontiguousarray(array))
        return {"frames": frames, "lengths": torch.tensor([len(a) for a in arrays])}

    def blank_item(self) -> np.ndarray:
        return np.zeros((1, self.hidden_size), dtype=np.float32)

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        frames = batch["frames"]
        return EncoderOutput(frames[:, None], frame_mask(batch["lengths"], frames.shape[1]))
