"""Run an upstream over a manifest through the cache, in parallel worker processes.

Bad audio never stops the pass midway: every problem is collected with its file name, so
the caller can report the full list or skip those rows.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from emotransfer.data.audio import AudioError, load_audio
from emotransfer.features.base import Upstream
from emotransfer.features.cache import FeatureCache


@dataclass
class Extraction:
    """Per-row arrays ``(L + 1, T, D)`` (``None`` where the audio was bad) and statistics."""

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


def extract_features(
    table: pd.DataFrame,
    upstream: Upstream,
    *,
    cache: FeatureCache,
    audio_options: dict[str, Any],
    workers: int = 1,
    progress: bool = True,
) -> Extraction:
    """Features for every row of ``table``, from the cache where present.

    Args:
        table: manifest rows (file, start, end).
        upstream: the feature extractor; must be picklable (constructor arguments only).
        cache: where features are stored.
        audio_options: keyword arguments for :func:`~emotransfer.data.audio.load_audio`.
        workers: processes that decode and extract in parallel.
        progress: show a progress bar.
    """
    began = time.perf_counter()
    keys = row_keys(table, audio_options.get("sample_rate", upstream.sample_rate))
    arrays: list[np.ndarray | None] = [cache.get(key) for key in keys]
    todo = [i for i, array in enumerate(arrays) if array is None]
    result = Extraction(arrays=arrays, hits=len(keys) - len(todo), misses=len(todo))
    jobs = [
        (i, table["file"].iat[i], table["start"].iat[i], table["end"].iat[i], keys[i]) for i in todo
    ]
    bar = tqdm(total=len(jobs), desc="features", unit="file", disable=not progress or not jobs)
    for index, array, problem in _run(jobs, upstream, cache, audio_options, workers):
        if problem is None:
            arrays[index] = array
        else:
            result.errors.append({"file": str(table["file"].iat[index]), "problem": problem})
        bar.update()
    bar.close()
    result.seconds = time.perf_counter() - began
    return result


def _run(
    jobs: list[tuple], upstream: Upstream, cache: FeatureCache, options: dict, workers: int
) -> Any:
    if workers <= 1 or len(jobs) < 8:
        _init(upstream, cache, options)
        yield from map(_work, jobs)
        return
    # fork is cheap, but unsafe once torch has started its thread pools in this process.
    method = "spawn" if "torch" in sys.modules else "fork"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init,
        initargs=(upstream, cache, options),
    ) as pool:
        yield from pool.map(_work, jobs, chunksize=max(1, min(16, len(jobs) // (workers * 8))))


_STATE: dict[str, Any] = {}


def _init(upstream: Upstream, cache: FeatureCache, options: dict) -> None:
    _STATE.update(upstream=upstream, cache=cache, options=options)


def _work(job: tuple) -> tuple[int, np.ndarray | None, str | None]:
    index, path, start, end, key = job
    try:
        wave = load_audio(path, start=start, end=end, **_STATE["options"])
        array = np.asarray(_STATE["upstream"].extract(wave), dtype=np.float32)
    except AudioError as error:
        return index, None, error.problem
    except Exception as error:  # an upstream failing on one clip must not end the pass
        return index, None, f"upstream failed: {type(error).__name__}: {error}"
    if not np.all(np.isfinite(array)):
        return index, None, "features contain NaN or infinite values"
    _STATE["cache"].put(key, array)
    return index, array, None
