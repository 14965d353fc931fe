"""Run an upstream over a manifest through the cache.

Two entries are stored per clip: the frame-level hidden states ``(L + 1, T, D)`` and their
per-layer statistics ``(L + 1, 2, D)`` (mean and standard deviation over frames), so that
probing any layer with any pooling reads only the small statistics and never re-runs the
encoder. Hand-crafted upstreams run in worker processes; upstreams with ``extract_batch``
(neural encoders) run in this process on length-sorted batches.

Bad audio never stops the pass midway: every problem is collected with its file name, so
the caller can report the full list or skip those rows.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from emotransfer.data.audio import AudioError, load_audio
from emotransfer.features.base import Upstream
from emotransfer.features.cache import FeatureCache

Level = Literal["frames", "pooled"]


@dataclass
class Extraction:
    """Per-row arrays (``None`` where the audio was bad) and statistics of the pass.

    ``arrays`` hold ``(L + 1, T, D)`` frames or ``(L + 1, 2, D)`` mean/std statistics.
    """

    arrays: list[np.ndarray | None]
    errors: list[dict[str, str]] = field(default_factory=list)
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0


def file_digest(path: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_keys(table: pd.DataFrame, sample_rate: int) -> list[str]:
    """Content keys per row: file bytes digest x segment bounds x rate (one hash per file)."""
    digests = {path: file_digest(path) for path in table["file"].unique()}
    keys = []
    for path, start, end in zip(table["file"], table["start"], table["end"]):
        text = f"{digests[path]}|{start!r}|{end!r}|{sample_rate}"
        keys.append(hashlib.blake2b(text.encode(), digest_size=20).hexdigest())
    return keys


def frame_statistics(frames: np.ndarray) -> np.ndarray:
    """``(L + 1, T, D)`` -> ``(L + 1, 2, D)``: mean and std over frames (std NaN when T = 1)."""
    frames = np.asarray(frames, dtype=np.float32)
    mean = frames.mean(axis=1)
    std = frames.std(axis=1) if frames.shape[1] > 1 else np.full_like(mean, np.nan)
    return np.stack([mean, std], axis=1)


def pooled_cache(cache: FeatureCache) -> FeatureCache:
    """The statistics store beside a frame store."""
    return FeatureCache(root=cache.root, identity={**cache.identity, "level": "pooled"})


def extract_features(
    table: pd.DataFrame,
    upstream: Upstream,
    *,
    cache: FeatureCache,
    audio_options: dict[str, Any],
    workers: int = 1,
    progress: bool = True,
    level: Level = "frames",
) -> Extraction:
    """Features for every row of ``table``, from the cache where present.

    Args:
        table: manifest rows (file, start, end).
        upstream: the feature extractor; must be picklable (constructor arguments only).
        cache: the frame-level store (statistics go to :func:`pooled_cache` of it).
        audio_options: keyword arguments for :func:`~emotransfer.data.audio.load_audio`.
        workers: processes that decode and extract in parallel (process-based upstreams).
        progress: show a progress bar.
        level: ``"frames"`` or ``"pooled"`` (statistics) arrays in the result.
    """
    began = time.perf_counter()
    keys = row_keys(table, audio_options.get("sample_rate", upstream.sample_rate))
    store = cache if level == "frames" else pooled_cache(cache)
    arrays: list[np.ndarray | None] = [store.get(key) for key in keys]
    todo = [i for i, array in enumerate(arrays) if array is None]
    result = Extraction(arrays=arrays, hits=len(keys) - len(todo), misses=len(todo))
    jobs = [
        (i, table["file"].iat[i], table["start"].iat[i], table["end"].iat[i], keys[i]) for i in todo
    ]
    bar = tqdm(total=len(jobs), desc="features", unit="file", disable=not progress or not jobs)
    if hasattr(upstream, "extract_batch"):
        outcomes = _run_batched(jobs, upstream, cache, audio_options, level)
    else:
        outcomes = _run_processes(jobs, upstream, cache, audio_options, workers, level)
    for index, array, problem in outcomes:
        if problem is None:
            arrays[index] = array
        else:
            result.errors.append({"file": str(table["file"].iat[index]), "problem": problem})
        bar.update()
    bar.close()
    result.seconds = time.perf_counter() - began
    return result


def _store(cache: FeatureCache, key: str, frames: np.ndarray, level: Level) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float32)
    statistics = frame_statistics(frames)
    # Large frame arrays are kept in float16 when their range allows (half the disk).
    small = frames.size < 65536 or float(np.abs(frames).max(initial=0.0)) > 6e4
    cache.put(key, frames if small else frames.astype(np.float16))
    pooled_cache(cache).put(key, statistics)
    return frames if level == "frames" else statistics


def _check(frames: np.ndarray) -> str | None:
    if not np.all(np.isfinite(frames)):
        return "features contain NaN or infinite values"
    return None


def _run_batched(
    jobs: list[tuple], upstream: Any, cache: FeatureCache, options: dict, level: Level
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    def decode(job: tuple) -> tuple[tuple, np.ndarray | None, str | None]:
        index, path, start, end, _ = job
        try:
            return job, load_audio(path, start=start, end=end, **options), None
        except AudioError as error:
            return job, None, error.problem

    size = int(getattr(upstream, "batch_size", 8))
    with ThreadPoolExecutor(max_workers=2) as pool:
        decoded = list(pool.map(decode, jobs))
    for job, _, problem in decoded:
        if problem is not None:
            yield job[0], None, problem
    good = sorted((d for d in decoded if d[2] is None), key=lambda d: len(d[1]))
    for first in range(0, len(good), size):
        batch = good[first : first + size]
        try:
            outputs = upstream.extract_batch([wave for _, wave, _ in batch])
        except Exception:  # retry one by one so a single bad clip fails alone
            outputs = [_extract_one(upstream, wave) for _, wave, _ in batch]
        for (job, _, _), frames in zip(batch, outputs):
            if isinstance(frames, str):
                yield job[0], None, frames
                continue
            problem = _check(frames)
            if problem:
                yield job[0], None, problem
            else:
                yield job[0], _store(cache, job[4], frames, level), None


def _extract_one(upstream: Any, wave: np.ndarray) -> np.ndarray | str:
    try:
        return upstream.extract_batch([wave])[0]
    except Exception as error:
        return f"upstream failed: {type(error).__name__}: {error}"


def _run_processes(
    jobs: list[tuple],
    upstream: Upstream,
    cache: FeatureCache,
    options: dict,
    workers: int,
    level: Level,
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    if workers <= 1 or len(jobs) < 8:
        _init(upstream, cache, options, level)
        yield from map(_work, jobs)
        return
    # fork is cheap, but unsafe once torch has started its thread pools in this process.
    method = "spawn" if "torch" in sys.modules else "fork"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init,
        initargs=(upstream, cache, options, level),
    ) as pool:
        yield from pool.map(_work, jobs, chunksize=max(1, min(16, len(jobs) // (workers * 8))))


_STATE: dict[str, Any] = {}


def _init(upstream: Upstream, cache: FeatureCache, options: dict, level: Level) -> None:
    _STATE.update(upstream=upstream, cache=cache, options=options, level=level)


def _work(job: tuple) -> tuple[int, np.ndarray | None, str | None]:
    index, path, start, end, key = job
    try:
        wave = load_audio(path, start=start, end=end, **_STATE["options"])
        frames = np.asarray(_STATE["upstream"].extract(wave), dtype=np.float32)
    except AudioError as error:
        return index, None, error.problem
    except Exception as error:  # an upstream failing on one clip must not end the pass
        return index, None, f"upstream failed: {type(error).__name__}: {error}"
    problem = _check(frames)
    if problem:
        return index, None, problem
    return index, _store(_STATE["cache"], key, frames, _STATE["level"]), None
