"""Scoped torch state: the global generator seeded for a block (and torch's thread count set
for a block), restored after it, so no component leaves process-wide state behind (dropout
and weight init read the global generator; a loaded model must not change the caller's
threads)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_seed(seed: int) -> Iterator[None]:
    """Inside the block, torch draws as after ``torch.manual_seed(seed)``; after it, the
    global generators are as they were.

    Example:
        >>> before = torch.get_rng_state()
        >>> with torch_seed(3):
        ...     a = torch.rand(2)
        >>> with torch_seed(3):
        ...     b = torch.rand(2)
        >>> bool((a == b).all()), bool((torch.get_rng_state() == before).all())
        (True, True)
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Inside the block torch computes on ``count`` threads (``None``: as it is); after it, on
    as many as before.

    Example:
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     inside = torch.get_num_threads()
        >>> inside, torch.get_num_threads() == before
        (1, True)
    """
    before = torch.get_num_threads()
    if count and count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
