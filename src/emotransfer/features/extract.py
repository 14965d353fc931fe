"""Run an upstream over a manifest through the cache.

Every clip's per-layer statistics ``(L + 1, 2, D)`` (mean and standard deviation over
frames) are stored, so that probing any layer with any pooling reads only the small
statistics and never re-runs the encoder; its frame-level hidden states ``(L + 1, T, D)``
only by a pass that asks for frames (``level="frames"``: attentive pooling analyses, FAD over
frames), which stores the statistics too. Hand-crafted upstreams run in worker processes;
upstreams with ``extract_batch`` (neural encoders) run in this process on length-sorted
batches (:mod:`emotransfer.features.runners`).

A cache hit is no way around validation: every entry records the duration of the audio it
was computed from, and a hit is re-checked against this run's ``min_duration`` and
``max_duration`` in :func:`~emotransfer.data.audio.load_audio`'s words (audio that failed
any other check was never stored). Corrupt entries (see :mod:`emotransfer.features.cache`)
and entries that break the upstream contract (shape, NaN) are logged, deleted, recomputed
and counted in :attr:`Extraction.corrupt`.

Bad audio never stops the pass midway: every problem is collected with its file name, so
the caller can report the full list or skip those rows; a file that no longer exists is
such a problem even where its features are cached.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from emotransfer.data.audio import file_problem, load_audio
from emotransfer.features.base import Upstream
from emotransfer.features.cache import CorruptEntry, Entry, FeatureCache, pooled_cache
from emotransfer.features.runners import Level, run_batched, run_processes

# load_audio's own defaults, so a hit is judged by the limits a decode would apply
LIMIT_DEFAULTS = {
    name: inspect.signature(load_audio).parameters[name].default
    for name in ("min_duration", "max_duration")
}


@dataclass
class Extraction:
    """Per-row arrays (``None`` where the audio was bad) and statistics of the pass.

    ``arrays`` hold ``(L + 1, T, D)`` frames or ``(L + 1, 2, D)`` mean/std statistics.
    ``hits`` rows were answered from the cache (features, or a duration outside the
    limits), ``misses`` rows were decoded, ``corrupt`` cache entries were found, deleted and
    recomputed (they are misses too).
    """

    arrays: list[np.ndarray | None]
    errors: list[dict[str, str]] = field(default_factory=list)
    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    seconds: float = 0.0
    # How the caller normalised the features: requested, chosen and why (layer_features).
    normalization: dict[str, str] = field(default_factory=dict)
    # With per-speaker normalisation: the average speaker's mean and scale of the pooled
    # features, (L + 1, D) each (what a clip of no declared speaker is standardised with).
    speaker_stats: tuple[np.ndarray, np.ndarray] | None = None
    blocks: list[int] = field(default_factory=list)  # an early fusion's widths: audio, text


def file_digest(path: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_keys(table: pd.DataFrame, sample_rate: int) -> list[str | None]:
    """Content keys per row: file bytes digest x segment bounds x rate (one hash per file).

    A row whose file cannot be read (missing, a folder, no permission) has key ``None``.
    """
    digests = {path: _digest_or_none(path) for path in table["file"].unique()}
    keys: list[str | None] = []
    for path, start, end in zip(table["file"], table["start"], table["end"]):
        if digests[path] is None:
            keys.append(None)
            continue
        text = f"{digests[path]}|{start!r}|{end!r}|{sample_rate}"
        keys.append(hashlib.blake2b(text.encode(), digest_size=20).hexdigest())
    return keys


def duration_problem(duration: float, audio_options: dict[str, Any]) -> str | None:
    """:func:`load_audio`'s verdict on a segment of ``duration`` seconds, or ``None``.

    Example:
        >>> duration_problem(1200.0, {"max_duration": 600})
        'too long: 1200.0 s > max_duration 600 s'
        >>> duration_problem(0.05, {})
        'too short: 0.050 s < min_duration 0.1 s'
        >>> duration_problem(3.0, {}) is None
        True
    """
    longest = audio_options.get("max_duration", LIMIT_DEFAULTS["max_duration"])
    shortest = audio_options.get("min_duration", LIMIT_DEFAULTS["min_duration"])
    if duration > longest:
        return f"too long: {duration:.1f} s > max_duration {longest} s"
    if duration < shortest:
        return f"too short: {duration:.3f} s < min_duration {shortest} s"
    return None


def entry_problem(array: np.ndarray, level: Level) -> str | None:
    """What in a stored array breaks the upstream contract, or ``None``.

    Frames are finite ``(L + 1, T, D)``; statistics are ``(L + 1, 2, D)`` with finite means
    and standard deviations finite or all NaN (a single frame).

    Example:
        >>> entry_problem(np.zeros((2, 5, 3)), "pooled")
        'shape (2, 5, 3) is not (L + 1, 2, D)'
        >>> entry_problem(np.zeros((2, 5, 3)), "frames") is None
        True
    """
    if array.ndim != 3:
        return f"shape {array.shape} is not (L + 1, T, D)"
    if level == "frames":
        return None if np.all(np.isfinite(array)) else "NaN or infinite values"
    if array.shape[1] != 2:
        return f"shape {array.shape} is not (L + 1, 2, D)"
    std = array[:, 1]
    if not np.all(np.isfinite(array[:, 0])) or not (
        np.all(np.isfinite(std)) or np.all(np.isnan(std))
    ):
        return "NaN or infinite values"
    return None


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
    result = Extraction(arrays=[None] * len(keys))
    problems = _read_cache(table, keys, store, level, audio_options, result)
    todo = [i for i, array in enumerate(result.arrays) if array is None and i not in problems]
    result.misses = len(todo)
    jobs = [
        (i, table["file"].iat[i], table["start"].iat[i], table["end"].iat[i], keys[i]) for i in todo
    ]
    bar = tqdm(total=len(jobs), desc="features", unit="file", disable=not progress or not jobs)
    if hasattr(upstream, "extract_batch"):
        outcomes = run_batched(jobs, upstream, cache, audio_options, level)
    else:
        outcomes = run_processes(jobs, upstream, cache, audio_options, workers, level)
    for index, array, problem in outcomes:
        if problem is None:
            result.arrays[index] = array
        else:
            problems[index] = problem
        bar.update()
    bar.close()
    result.errors = [
        {"file": str(table["file"].iat[i]), "problem": problems[i]} for i in sorted(problems)
    ]
    result.seconds = time.perf_counter() - began
    return result


def _read_cache(
    table: pd.DataFrame,
    keys: list[str | None],
    store: FeatureCache,
    level: Level,
    options: dict,
    result: Extraction,
) -> dict[int, str]:
    """Fill ``result`` from ``store``; the problems found without decoding, by row."""
    problems = {}
    for index, key in enumerate(keys):
        if key is None:
            problems[index] = _unreadable(table["file"].iat[index])
            continue
        entry = _cached(store, key, level, result)
        if entry is None:
            continue
        result.hits += 1
        problem = duration_problem(entry.duration, options)
        if problem is None:
            result.arrays[index] = entry.array
        else:
            problems[index] = problem
    return problems


def verified_entry(store: FeatureCache, key: str, level: Level) -> tuple[Entry | None, bool]:
    """The sound entry under ``key`` (:func:`entry_problem`); whether a corrupt one was deleted."""
    try:
        entry = store.load(key)
        problem = None if entry is None else entry_problem(entry.array, level)
        if problem is not None:
            raise CorruptEntry(store.path(key), problem)
    except CorruptEntry as error:
        store.discard(error)
        return None, True
    return entry, False


def _cached(store: FeatureCache, key: str, level: Level, result: Extraction) -> Entry | None:
    entry, corrupt = verified_entry(store, key, level)
    result.corrupt += corrupt
    if entry is not None and entry.duration is None:
        return None  # stored without its audio's duration: the limits cannot be re-checked
    return entry


def _unreadable(path: str) -> str:
    return file_problem(path) or "cannot read file"  # load_audio's words


def _digest_or_none(path: str) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None
