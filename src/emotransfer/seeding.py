"""Scoped seeding: torch's global generator seeded for a block and restored after it, so no
component leaves random state behind (dropout and weight init read the global generator)."""

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
