"""Several upstreams as one: each pooled over its frames, concatenated (feature-level early
fusion, e.g. eGeMAPS beside a nonverbal detector's posteriors).

Each part is a registered upstream (``{name, params, layer, pooling}``; ``layer`` -1 by
default, the last hidden state) whose frames are pooled over time (``pooling``, the stack's
unless the part names its own: ``mean``; ``mean_std``; ``stats``: mean, std, max and min,
where the maximum keeps a short event that the mean dilutes). Give an utterance-level part
(eGeMAPS: one frame) ``pooling: mean``, or its std, max and min repeat what its mean says. The
result is one utterance-level vector ``(1, 1, sum D')`` whose size does not depend on the
clip's length, cached like any upstream's output under the identities of all its parts.

Example:
    >>> stack = StackedUpstream(upstreams=[{"name": "logmel", "params": {"num_mels": 8}},
    ...                                    {"name": "logmel", "params": {"num_mels": 4}}],
    ...                         pooling="mean_std")
    >>> stack.extract(np.zeros(16000, dtype=np.float32)).shape
    (1, 1, 24)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emotransfer import registry

POOLINGS = ("mean", "mean_std", "stats")


def pool_frames(frames: np.ndarray, pooling: str) -> np.ndarray:
    """``(T, D)`` -> ``(D')``: the statistics ``pooling`` names over the frames, of the same
    size for any ``T`` (one frame: std 0, max = min = mean)."""
    frames = np.asarray(frames, dtype=np.float32)
    parts = [frames.mean(0)]
    if pooling in ("mean_std", "stats"):
        parts.append(frames.std(0))
    if pooling == "stats":
        parts += [frames.max(0), frames.min(0)]
    return np.concatenate(parts)


class StackedUpstream:
    """Concatenated pooled outputs of ``upstreams`` (see the module).

    Args:
        upstreams: ``[{"name": registered upstream, "params": {...}, "layer": int,
            "pooling": str}]``.
        pooling: ``mean``, ``mean_std`` or ``stats`` (over each part's frames).
        sample_rate: the audio's rate, given to every part (unless its params say otherwise).
    """

    def __init__(
        self, *, upstreams: list[dict[str, Any]], pooling: str = "stats", sample_rate: int = 16000
    ) -> None:  # fmt: skip
        if pooling not in POOLINGS:
            raise ValueError(f"stack: pooling {pooling!r}: one of {list(POOLINGS)}")
        if not upstreams or not all(isinstance(u, dict) and "name" in u for u in upstreams):
            raise ValueError("stack: upstreams is a list of {name, params, layer} entries")
        if any(u["name"] == "stack" for u in upstreams):
            raise ValueError("stack: a stack cannot hold another stack")
        self.pooling = pooling
        self.layers = [int(u.get("layer", -1)) for u in upstreams]
        self.poolings = [str(u.get("pooling", pooling)) for u in upstreams]
        if any(name not in POOLINGS for name in self.poolings):
            raise ValueError(f"stack: pooling {self.poolings}: each one of {list(POOLINGS)}")
        self.parts = [registry.build("upstream", u["name"],
                                     **{"sample_rate": sample_rate, **(u.get("params") or {})})
                      for u in upstreams]  # fmt: skip
        rates = {part.sample_rate for part in self.parts}
        if len(rates) != 1:
            raise ValueError(f"stack: the upstreams take different sample rates {sorted(rates)}")
        self.sample_rate = rates.pop()

    def extract(self, wave: np.ndarray) -> np.ndarray:
        parts = zip(self.parts, self.layers, self.poolings)
        pooled = [pool_frames(part.extract(wave)[layer], pooling) for part, layer, pooling in parts]
        return np.concatenate(pooled)[None, None]

    def identity(self) -> dict[str, Any]:
        return {"upstream": "stack", "poolings": self.poolings, "layers": self.layers,
                "parts": [part.identity() for part in self.parts]}  # fmt: skip
