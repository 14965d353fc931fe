"""Feature-cache cases: a cache hit never bypasses a duration limit, and a damaged entry is
recomputed (with a warning naming it) so the run scores exactly as with a clean cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from tests.reliability.case import Attempt, Registry
from tests.reliability.corpus import add_bad_audio, add_clip, tone
from tests.reliability.harness import Observation, Workspace, expect_result, expect_skip

cases = Registry()
CLEAN_ROWS = 24


def entries(cache: Path) -> list[Path]:
    """Every cache entry file (not the store's identity or layout records)."""
    return sorted(p for p in cache.rglob("*") if p.suffix in (".safetensors", ".npy"))


def _rewrite(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Store ``change(array)`` in the entry, keeping its metadata: a well-formed file."""
    import safetensors.numpy
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
        arrays = {key: change(handle.get_tensor(key)) for key in handle.keys()}  # noqa: SIM118
    path.write_bytes(safetensors.numpy.save(arrays, metadata=metadata))


def _noise(array: np.ndarray) -> np.ndarray:
    """Other values of the same shape and type. Random, not an affine change: per-speaker
    standardisation would undo a scale and offset and hide that they were used."""
    return np.random.default_rng(0).standard_normal(array.shape).astype(array.dtype)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for position in range(len(data) - 16, len(data)):  # in the array bytes, at the end
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def _npy(path: Path) -> None:
    """A valid .npy of altered values written over the entry (the older entry format)."""
    import io

    import safetensors.numpy

    array = next(iter(safetensors.numpy.load(path.read_bytes()).values()))
    stream = io.BytesIO()
    np.save(stream, _noise(array), allow_pickle=False)
    path.write_bytes(stream.getvalue())


CORRUPTIONS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "altered": ("rewritten with other values (metadata kept)", lambda p: _rewrite(p, _noise)),
    "nan": ("rewritten with NaN values", lambda p: _rewrite(p, lambda a: np.full_like(a, np.nan))),
    "shape": ("rewritten with one value less per frame",
              lambda p: _rewrite(p, lambda a: np.ascontiguousarray(a[..., :-1]))),
    "zeros": ("rewritten with zeros", lambda p: _rewrite(p, np.zeros_like)),
    "flipped": ("16 bytes flipped at the end", _flip),
    "truncated": ("truncated to half its bytes",
                  lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
    "empty": ("emptied (0 bytes)", lambda p: p.write_bytes(b"")),
    "npy": ("replaced by a valid .npy of altered values", _npy),
}  # fmt: skip


def _damaged(corrupt: Callable[[Path], None]) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        cache = workspace.cache_copy(case_id)
        damaged = entries(cache)
        if not damaged:
            return Observation("traceback", f"no cache entries found under {cache}")
        for path in damaged:
            corrupt(path)
        call = workspace.run(workspace.clean, case_id, cache=cache)
        return expect_result(call, workspace.baseline["summary"], CLEAN_ROWS)

    return attempt


for kind, (what, corrupt) in CORRUPTIONS.items():
    cases.add(f"cache-{kind}", f"every cache entry {what}", "ok",
              "cache entry")(_damaged(corrupt))  # fmt: skip


@cases.add("cache-max-duration", "a cache filled with max_duration 1300, then the default 600 s",
           "skip", "long.wav", "too long")  # fmt: skip
def _max_duration(workspace: Workspace, case_id: str) -> Observation:
    corpus, cache = workspace.corpus_copy(case_id), workspace.cache_copy(case_id)
    name = add_bad_audio(corpus, "long")
    first = workspace.run(corpus, f"{case_id}-1300", "data.audio.max_duration=1300", cache=cache)
    if first.code != 0:
        return Observation("error", f"the max_duration 1300 run failed: {first.err}")
    second = workspace.run(corpus, case_id, "data.audio.on_error=skip", cache=cache)
    return expect_skip(second, [name], CLEAN_ROWS)


@cases.add("cache-min-duration", "a cache filled with min_duration 0.1, then min_duration 0.4",
           "skip", "brief.wav", "too short")  # fmt: skip
def _min_duration(workspace: Workspace, case_id: str) -> Observation:
    corpus, cache = workspace.corpus_copy(case_id), workspace.cache_copy(case_id)
    add_clip(corpus, "brief.wav", tone("anger", 0.3, seed=7))
    first = workspace.run(corpus, f"{case_id}-0.1", cache=cache)
    if first.code != 0:
        return Observation("error", f"the min_duration 0.1 run failed: {first.err}")
    second = workspace.run(corpus, case_id, "data.audio.min_duration=0.4",
                           "data.audio.on_error=skip", cache=cache)  # fmt: skip
    return expect_skip(second, ["brief.wav"], CLEAN_ROWS)


@cases.add("cache-max-duration-lowered", "a cache filled with the default limits, then "
           "max_duration 1.5 s and a 2 s clip", "skip", "two_seconds.wav", "too long")  # fmt: skip
def _max_lowered(workspace: Workspace, case_id: str) -> Observation:
    corpus, cache = workspace.corpus_copy(case_id), workspace.cache_copy(case_id)
    add_clip(corpus, "two_seconds.wav", tone("anger", 2.0, seed=8))
    first = workspace.run(corpus, f"{case_id}-600", cache=cache)
    if first.code != 0:
        return Observation("error", f"the default run failed: {first.err}")
    second = workspace.run(corpus, case_id, "data.audio.max_duration=1.5",
                           "data.audio.on_error=skip", cache=cache)  # fmt: skip
    return expect_skip(second, ["two_seconds.wav"], CLEAN_ROWS)
