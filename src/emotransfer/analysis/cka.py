"""Linear CKA (Kornblith et al. 2019): how similar two representations of the same examples are.

:func:`representation_cka` compares an encoder's hidden states before and after fine-tuning,
one value per hidden state (1 = same representation up to rotation and scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Pooling = Literal["mean", "frames"]
POOLINGS = ("mean", "frames")
MAX_FRAMES = 20_000


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between two representations ``(N, D1)`` and ``(N, D2)`` of the same examples.

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` on column-centred float64 features,
    evaluated through the ``N x N`` Gram matrices when that is cheaper (few examples, wide
    features). 1 for representations equal up to rotation and isotropic scaling; near 0 for
    independent ones when ``N`` is much larger than ``D``.

    Raises:
        ValueError: inputs are not 2-D with the same ``N >= 2``, or one has no variance.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(2000, 4))
        >>> round(linear_cka(x, x), 6), round(linear_cka(x, rng.normal(size=(2000, 4))), 2)
        (1.0, 0.0)
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need (N, D) arrays with the same N >= 2, got {x.shape} and {y.shape}")
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    count, width_x, width_y = len(x), x.shape[1], y.shape[1]
    if count * (width_x + width_y) < width_x * width_y + width_x**2 + width_y**2:
        gram_x, gram_y = x @ x.T, y @ y.T
        cross, norm_x, norm_y = np.vdot(gram_x, gram_y), gram_x, gram_y
    else:
        cross = np.sum((y.T @ x) ** 2)
        norm_x, norm_y = x.T @ x, y.T @ y
    scale = np.linalg.norm(norm_x) * np.linalg.norm(norm_y)
    if scale == 0:
        raise ValueError("linear CKA is undefined for a representation without variance")
    return float(cross / scale)


def representation_cka(
    states_before: Sequence[np.ndarray],
    states_after: Sequence[np.ndarray],
    *,
    pooling: Pooling = "mean",
    max_frames: int = MAX_FRAMES,
    seed: int = 0,
) -> list[float]:
    """Linear CKA per hidden state between an encoder's outputs before and after fine-tuning.

    Args:
        states_before: one ``(L + 1, T, D)`` array per clip, from the encoder before.
        states_after: the same clips, in the same order, from the encoder after.
        pooling: ``"mean"``: one time-averaged vector per clip (``N`` = clips);
            ``"frames"``: every frame is an example (``N`` = all frames, a random subset of
            at most ``max_frames``, the same frames on both sides, to bound memory).
        max_frames: frame budget of ``"frames"``.
        seed: seed of the frame subset.

    Returns:
        ``L + 1`` CKA values, index 0 first.

    Raises:
        ValueError: unknown pooling, no clips, clip counts or shapes ``(L + 1, T)`` differ
            between the two sides, or see :func:`linear_cka`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> before = [rng.normal(size=(2, 5, 4)) for _ in range(6)]
        >>> after = [np.stack([s[0], s[1] + rng.normal(size=(5, 4))]) for s in before]
        >>> [round(v, 2) for v in representation_cka(before, after, pooling="frames")]
        [1.0, 0.46]
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}; known: {POOLINGS}")
    if not states_before or len(states_before) != len(states_after):
        raise ValueError(f"need the same clips on both sides, got {len(states_before)} "
                         f"and {len(states_after)}")  # fmt: skip
    for clip, (start, end) in enumerate(zip(states_before, states_after)):
        if start.ndim != 3 or start.shape[:2] != end.shape[:2]:
            raise ValueError(f"clip {clip}: states {start.shape} before, {end.shape} after; "
                             "expected (L + 1, T, D) with the same L + 1 and T")  # fmt: skip
    if len({states.shape[0] for states in states_before}) != 1:
        raise ValueError("clips differ in their number of hidden states")
    frames = _frame_subset([len(s[0]) for s in states_before], max_frames, seed)
    return [
        linear_cka(
            _examples(states_before, layer, pooling, frames),
            _examples(states_after, layer, pooling, frames),
        )
        for layer in range(states_before[0].shape[0])
    ]


def _frame_subset(lengths: list[int], max_frames: int, seed: int) -> list[np.ndarray]:
    """Frame indices kept per clip: all of them, or a uniform sample of ``max_frames``."""
    total = sum(lengths)
    if total <= max_frames:
        return [np.arange(length) for length in lengths]
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=max_frames, replace=False))
    starts = np.cumsum([0, *lengths])
    return [chosen[(chosen >= a) & (chosen < b)] - a for a, b in zip(starts[:-1], starts[1:])]


def _examples(
    states: Sequence[np.ndarray], layer: int, pooling: Pooling, frames: list[np.ndarray]
) -> np.ndarray:
    if pooling == "mean":
        return np.stack([clip[layer].mean(axis=0, dtype=np.float64) for clip in states])
    return np.concatenate([clip[layer][kept] for clip, kept in zip(states, frames)])
