"""Run an upstream over a manifest through the cache.

Two entries are stored per clip: the frame-level hidden states ``(L + 1, T, D)`` and their
per-layer statistics ``(L + 1, 2, D)`` (mean and standard deviation over frames), so that
probing any layer with any pooling reads only the small statistics and never re-runs the
encoder. Hand-crafted upstreams run in worker processes; upstreams with ``extract_batch``
(neural encoders) run in this process on length-sorted batches.

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
import math
import multiprocessing
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import soundfile
from tqdm.auto import tqdm

from emotransfer.data.audio import AudioError, file_problem, load_audio
from emotransfer.features.base import Upstream
from emotransfer.features.cache import CorruptEntry, Entry, FeatureCache

Level = Literal["frames", "pooled"]
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


def segment_duration(path: str, start: float | None, end: float | None) -> tuple[float, int]:
    """Seconds and native rate of the segment :func:`load_audio` decodes (its arithmetic).

    Example:
        >>> import tempfile
        >>> path = tempfile.mktemp(suffix=".wav")
        >>> soundfile.write(path, np.full(8000, 0.1), 8000)
        >>> segment_duration(path, 0.25, None)
        (0.75, 8000)
    """
    info = soundfile.info(str(path))
    rate = info.samplerate
    first = 0 if _unset(start) else int(round(float(start) * rate))
    last = info.frames if _unset(end) else min(int(round(float(end) * rate)), info.frames)
    return (last - first) / rate, rate


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
    result = Extraction(arrays=[None] * len(keys))
    problems = _read_cache(table, keys, store, level, audio_options, result)
    todo = [i for i, array in enumerate(result.arrays) if array is None and i not in problems]
    result.misses = len(todo)
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


def _unset(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _decode(path: str, start: float, end: float, options: dict) -> tuple[np.ndarray, float, int]:
    """The wave and what the cache records about it: segment seconds and native rate."""
    wave = load_audio(path, start=start, end=end, **options)
    try:
        seconds, rate = segment_duration(path, start, end)
    except Exception as error:  # the file vanished or changed after it was decoded
        raise AudioError(path, f"cannot decode audio ({type(error).__name__})") from error
    return wave, seconds, rate


def _store(
    cache: FeatureCache, key: str, frames: np.ndarray, level: Level, seconds: float, rate: int
) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float32)
    statistics = frame_statistics(frames)
    # Large frame arrays are kept in float16 when their range allows (half the disk).
    small = frames.size < 65536 or float(np.abs(frames).max(initial=0.0)) > 6e4
    stored = frames if small else frames.astype(np.float16)
    cache.put(key, stored, duration=seconds, sample_rate=rate)
    pooled_cache(cache).put(key, statistics, duration=seconds, sample_rate=rate)
    return frames if level == "frames" else statistics


def _check(frames: np.ndarray) -> str | None:
    if not np.all(np.isfinite(frames)):
        return "features contain NaN or infinite values"
    return None


def _run_batched(
    jobs: list[tuple], upstream: Any, cache: FeatureCache, options: dict, level: Level
) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    def decode(job: tuple) -> tuple[tuple, tuple | None, str | None]:
        index, path, start, end, _ = job
        try:
            return job, _decode(path, start, end, options), None
        except AudioError as error:
            return job, None, error.problem

    size = int(getattr(upstream, "batch_size", 8))
    with ThreadPoolExecutor(max_workers=2) as pool:
        decoded = list(pool.map(decode, jobs))
    for job, _, problem in decoded:
        if problem is not None:
            yield job[0], None, problem
    good = sorted((d for d in decoded if d[2] is None), key=lambda d: len(d[1][0]))
    for first in range(0, len(good), size):
        batch = good[first : first + size]
        try:
            outputs = upstream.extract_batch([audio[0] for _, audio, _ in batch])
        except Exception:  # retry one by one so a single bad clip fails alone
            outputs = [_extract_one(upstream, audio[0]) for _, audio, _ in batch]
        for (job, (_, seconds, rate), _), frames in zip(batch, outputs):
            if isinstance(frames, str):
                yield job[0], None, frames
                continue
            problem = _check(frames)
            if problem:
                yield job[0], None, problem
            else:
                yield job[0], _store(cache, job[4], frames, level, seconds, rate), None


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
        wave, seconds, rate = _decode(path, start, end, _STATE["options"])
        frames = np.asarray(_STATE["upstream"].extract(wave), dtype=np.float32)
    except AudioError as error:
        return index, None, error.problem
    except Exception as error:  # an upstream failing on one clip must not end the pass
        return index, None, f"upstream failed: {type(error).__name__}: {error}"
    problem = _check(frames)
    if problem:
        return index, None, problem
    return index, _store(_STATE["cache"], key, frames, _STATE["level"], seconds, rate), None
