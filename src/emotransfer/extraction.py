"""``emotransfer extract CONFIG``: fill a config's feature cache ahead of its runs, on one
process or sharded over several (``torchrun --nproc_per_node N -m emotransfer.cli extract
CONFIG``, or ``accelerate launch`` with several processes; across hosts the same with the cache
on shared storage).

Each process takes every ``WORLD_SIZE``-th row of the manifest from its ``RANK`` on and
extracts it into the content-addressed cache (entries are written atomically under the digest
of the audio and the upstream, so processes never collide and the cache is the one a single
process writes); then the processes meet at a barrier (``torch.distributed``, gloo) and rank 0
reads the whole corpus back from the cache and reports it. Without those variables it is one
process doing everything.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from emotransfer.config import ExperimentConfig
from emotransfer.prepare import layer_features, prepare_manifest


@dataclass
class ExtractionReport:
    """What rank 0 read back: clips with features, clips skipped (with their problems), the
    hidden states and pooled width per clip, the processes and seconds."""

    clips: int
    skipped: list[dict[str, Any]]
    states: int
    width: int
    processes: int
    seconds: float


def process_share() -> tuple[int, int]:
    """``(rank, world size)`` from the launcher's ``RANK`` and ``WORLD_SIZE`` (``(0, 1)``
    without them).

    Raises:
        ValueError: values that are not integers, or a rank outside ``0..world - 1``.
    """
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError as error:
        raise ValueError(f"RANK / WORLD_SIZE must be integers: {error}") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK {rank} of WORLD_SIZE {world}: the rank must be 0..{world - 1}")
    return rank, world


def extract(config: ExperimentConfig, *, progress: bool = True) -> ExtractionReport | None:
    """Extract ``config``'s corpus into its feature cache, this process's share of it (see
    the module); rank 0 returns the report of the whole corpus, the other ranks ``None``.

    Raises:
        BadAudioError: with ``data.audio.on_error: raise``, the bad files of this share.
    """
    rank, world = process_share()
    began = time.perf_counter()
    table, _, skipped = prepare_manifest(config)
    if world > 1:
        share = table.iloc[rank::world].reset_index(drop=True)
        layer_features(config, share, list(skipped), progress=progress and rank == 0)
        _barrier()
        if rank != 0:
            return None
    features, _, _ = layer_features(config, table, skipped, progress=progress and world == 1)
    return ExtractionReport(clips=len(features), skipped=skipped, states=features.shape[1],
                            width=features.shape[2], processes=world,
                            seconds=round(time.perf_counter() - began, 1))  # fmt: skip


def _barrier() -> None:
    """Every process of the launch waits here (gloo: CPU and GPU hosts alike)."""
    import torch.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group("gloo")
    try:
        dist.barrier()
    finally:
        if created:
            dist.destroy_process_group()
