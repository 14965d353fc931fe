"""Process settings that keep resident memory from growing with the number of clips a pass
has seen (extraction, training): :func:`bound_memory`.

With glibc's defaults a freed large block raises the size under which later blocks come from
the heap, and the heap, fragmented by the small arrays that stay, never shrinks; oneDNN
caches 1,024 compiled primitives, and clips of every length make new ones. Both made the
resident memory of a whisper-base extraction grow with every batch (3.6 GB after one hour of
audio, 0.9 GB with these settings; ``benchmarks/RESULTS.md`` "Corpora of many hours").
"""

from __future__ import annotations

import ctypes
import functools
import os

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LARGE_BLOCK = 1 << 20  # bytes: blocks of at least this size are mapped and unmapped


@functools.cache
def bound_memory() -> bool:
    """Once per process: oneDNN's primitive cache capped at 32 (``ONEDNN_PRIMITIVE_CACHE_CAPACITY``
    unless the user set it; it takes effect if oneDNN has not run yet), and glibc told to map
    blocks of ``LARGE_BLOCK`` bytes or more and unmap them when freed (a fixed threshold: its
    dynamic one keeps them on the heap) unless ``MALLOC_MMAP_THRESHOLD_`` chose for it.
    Returns whether glibc took it (``False`` off glibc or when the user chose)."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK))
    except (OSError, AttributeError):
        return False
