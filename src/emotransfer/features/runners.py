"""How an upstream runs over the clips a pass needs (:func:`run_batched` for neural encoders
in this process, :func:`run_processes` for hand-crafted ones in worker processes), storing
each clip's frames and their statistics in the cache as it goes.

Memory does not grow with the corpus: a batched upstream's clips are ordered by the
duration their file headers give and decoded one batch ahead of the encoder (never the whole
corpus at once), and every clip's frame-level states leave memory once they are stored, only
their statistics are kept. Two process settings keep that true (:func:`bound_memory`): glibc
returns large blocks to the system when they are freed (by default a freed block raises the
size under which later blocks come from the heap, and the heap, fragmented by the small
arrays that stay, never shrinks), and oneDNN keeps at most 32 compiled primitives (it caches
1,024 by default, and clips of every length make new ones). Without them the resident memory
of a whisper-base extraction grew with every batch (3.6 GB after one hour of audio, 0.9 GB
with them; see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import math
import multiprocessing
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import soundfile

from emotransfer.data.audio import AudioError, load_audio
from emotransfer.features.base import Upstream
from emotransfer.features.cache import FeatureCache, pooled_cache
from emotransfer.memory import bound_memory

Level = Literal["frames", "pooled"]
Outcome = tuple[int, "np.ndarray | None", "str | None"]  # row, array, problem


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


def frame_statistics(frames: np.ndarray) -> np.ndarray:
    """``(L + 1, T, D)`` -> ``(L + 1, 2, D)``: mean and std over frames (std NaN when T = 1)."""
    frames = np.asarray(frames, dtype=np.float32)
    mean = frames.mean(axis=1)
    std = frames.std(axis=1) if frames.shape[1] > 1 else np.full_like(mean, np.nan)
    return np.stack([mean, std], axis=1)


def run_batched(
    jobs: list[tuple], upstream: Any, cache: FeatureCache, options: dict, level: Level
) -> Iterator[Outcome]:
    """Each job ``(row, path, start, end, key)`` through ``upstream.extract_batch`` in
    batches of similar durations, the next batch decoded (by two threads) while one runs."""
    bound_memory()
    size = int(getattr(upstream, "batch_size", 8))
    ordered = sorted(jobs, key=_header_seconds)
    batches = [ordered[first : first + size] for first in range(0, len(ordered), size)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead: deque[Future] = deque()
        for number in range(len(batches)):
            while len(ahead) < 2 and number + len(ahead) < len(batches):
                ahead.append(pool.submit(_decode_all, batches[number + len(ahead)], options))
            decoded = ahead.popleft().result()
            good = []
            for job, audio, problem in decoded:
                if problem is not None:
                    yield job[0], None, problem
                else:
                    good.append((job, audio))
            yield from _encode(good, upstream, cache, level)


def _encode(good: list[tuple], upstream: Any, cache: FeatureCache,
            level: Level) -> Iterator[Outcome]:  # fmt: skip
    if not good:
        return
    try:
        outputs = upstream.extract_batch([audio[0] for _, audio in good])
    except Exception:  # retry one by one so a single bad clip fails alone
        outputs = [_extract_one(upstream, audio[0]) for _, audio in good]
    for (job, (_, seconds, rate)), frames in zip(good, outputs):
        if isinstance(frames, str):
            yield job[0], None, frames
            continue
        problem = _check(frames)
        if problem:
            yield job[0], None, problem
        else:
            yield job[0], _store(cache, job[4], frames, level, seconds, rate), None


def run_processes(
    jobs: list[tuple], upstream: Upstream, cache: FeatureCache, options: dict, workers: int,
    level: Level,
) -> Iterator[Outcome]:  # fmt: skip
    """Each job through ``upstream.extract`` in ``workers`` processes (in this process for
    one worker or a handful of jobs)."""
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


def _header_seconds(job: tuple) -> float:
    try:
        return segment_duration(job[1], job[2], job[3])[0]
    except Exception:  # unreadable: its decode reports the problem
        return 0.0


def _decode_all(batch: list[tuple], options: dict) -> list[tuple]:
    decoded = []
    for job in batch:
        try:
            decoded.append((job, _decode(job[1], job[2], job[3], options), None))
        except AudioError as error:
            decoded.append((job, None, error.problem))
    return decoded


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
    if level == "frames":  # only a pass that needs the frames stores them (1.3 GB per audio
        # hour for whisper-base); large arrays in float16 when their range allows (half that)
        small = frames.size < 65536 or float(np.abs(frames).max(initial=0.0)) > 6e4
        stored = frames if small else frames.astype(np.float16)
        cache.put(key, stored, duration=seconds, sample_rate=rate)
    pooled_cache(cache).put(key, statistics, duration=seconds, sample_rate=rate)
    return frames if level == "frames" else statistics


def _check(frames: np.ndarray) -> str | None:
    if not np.all(np.isfinite(frames)):
        return "features contain NaN or infinite values"
    return None


def _extract_one(upstream: Any, wave: np.ndarray) -> np.ndarray | str:
    try:
        return upstream.extract_batch([wave])[0]
    except Exception as error:
        return f"upstream failed: {type(error).__name__}: {error}"


_STATE: dict[str, Any] = {}


def _init(upstream: Upstream, cache: FeatureCache, options: dict, level: Level) -> None:
    bound_memory()
    _STATE.update(upstream=upstream, cache=cache, options=options, level=level)


def _work(job: tuple) -> Outcome:
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
