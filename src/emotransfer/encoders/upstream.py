"""Any registered frozen upstream (openSMILE, resemblyzer, the numpy log-mel, a frozen
transformers encoder) as an :class:`~emotransfer.encoders.base.Encoder` without weights.

``prepare`` runs the upstream on the CPU and pads its ``(L + 1, T, D)`` arrays into a batch;
``forward`` hands them on. So hand-crafted features train heads through the same loop, the
same model and the same Predictor as pretrained encoders, and the Predictor of a
frozen-feature run builds its upstream once and reuses it for every call.

Example:
    >>> import numpy as np
    >>> encoder = UpstreamEncoder(upstream="logmel", params={"num_mels": 8})
    >>> output = encoder(encoder.prepare([np.full(16000, 0.01, "float32")]))
    >>> tuple(output.states.shape), encoder.num_layers, encoder.hidden_size
    ((1, 1, 98, 8), 0, 8)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import torch

from emotransfer import registry
from emotransfer.encoders.base import Encoder, EncoderOutput, whole_or_mask

PROBE_SECONDS = 1.0  # a clip this long, of low noise, tells the upstream's sizes


class UpstreamEncoder(Encoder):
    """A frozen upstream's hidden states, padded into batches.

    Args:
        upstream: a registered upstream name (or a ``module:Class`` that ``plugins`` allows).
        params: the upstream's parameters.
        sample_rate: rate in Hz of the waveforms.
        plugins: class paths the caller allows.
    """

    def __init__(
        self,
        *,
        upstream: str,
        params: dict[str, Any] | None = None,
        sample_rate: int = 16000,
        plugins: Collection[str] = (),
    ) -> None:
        super().__init__()
        self.upstream_name = upstream
        self.params = dict(params or {})
        self.sample_rate = sample_rate
        self.upstream = registry.build("upstream", upstream, plugins=plugins,
                                       sample_rate=sample_rate, **self.params)  # fmt: skip
        self._shape: tuple[int, ...] | None = None

    def _probe(self) -> tuple[int, ...]:
        # Sizes are learnt on first use, not at construction: building the upstream (e.g. a
        # hub model) must not load anything until features are asked for.
        if self._shape is None:
            probe = np.random.default_rng(0).normal(0, 0.01, int(PROBE_SECONDS * self.sample_rate))
            self._shape = tuple(self.upstream.extract(probe.astype(np.float32)).shape)
        return self._shape

    @property
    def num_layers(self) -> int:  # type: ignore[override]
        return self._probe()[0] - 1

    @property
    def hidden_size(self) -> int:  # type: ignore[override]
        return self._probe()[2]

    @property
    def frame_rate(self) -> float:  # type: ignore[override]
        frames = self._probe()[1]
        return 0.0 if frames == 1 else frames / PROBE_SECONDS

    def extract(self, items: list[np.ndarray]) -> list[np.ndarray]:
        """The upstream's ``(L + 1, T, D)`` float32 array per waveform (one at a time, as the
        feature cache computes them, so a prediction sees the features its heads were fitted
        on)."""
        return [self.upstream.extract(wave) for wave in items]

    def prepare(self, items: list[np.ndarray]) -> dict[str, torch.Tensor]:
        arrays = self.extract(items)
        frames = [array.shape[1] for array in arrays]
        states = torch.zeros(len(arrays), self.num_states, max(frames), self.hidden_size)
        for row, array in enumerate(arrays):
            states[row, :, : array.shape[1]] = torch.from_numpy(np.asarray(array, np.float32))
        return {"states": states, "frames": torch.tensor(frames)}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        states = batch["states"]
        return EncoderOutput(states, whole_or_mask(batch.get("frames"), states[:, 0]))
