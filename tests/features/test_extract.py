import logging
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
import soundfile as sf
from safetensors import safe_open

from emotransfer.features.cache import FeatureCache, entry_checksum
from emotransfer.features.extract import extract_features, file_digest, pooled_cache, row_keys
from emotransfer.features.logmel import LogMel

RATE = 16000
OPTIONS = {"sample_rate": RATE, "min_duration": 0.1, "max_duration": 10.0}


def write_tone(path, frequency=440.0, seconds=0.3):
    time = np.arange(int(seconds * RATE)) / RATE
    sf.write(path, 0.2 * np.sin(2 * np.pi * frequency * time), RATE)
    return str(path)


def manifest(files, starts=None, ends=None):
    nan = [np.nan] * len(files)
    return pd.DataFrame({"file": files, "start": starts or nan, "end": ends or nan})


def run(files, cache_root, workers=1, **table_options):
    upstream = LogMel(num_mels=16)
    cache = FeatureCache(root=cache_root, identity=upstream.identity())
    table = manifest(files, **table_options)
    return extract_features(
        table, upstream, cache=cache, audio_options=OPTIONS, workers=workers, progress=False
    )


@pytest.fixture
def tones(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    return [write_tone(folder / f"tone{i}.wav", 200.0 + 100 * i) for i in range(8)]


def test_features_and_counts(tones, tmp_path):
    first = run(tones[:3], tmp_path / "cache")
    assert (first.hits, first.misses, first.errors) == (0, 3, [])
    assert [a.shape for a in first.arrays] == [(1, 28, 16)] * 3
    np.testing.assert_array_equal(
        first.arrays[1], LogMel(num_mels=16).extract(sf.read(tones[1], dtype="float32")[0])
    )
    again = run(tones[:3], tmp_path / "cache")
    assert (again.hits, again.misses) == (3, 0)
    for cached, computed in zip(again.arrays, first.arrays):
        np.testing.assert_array_equal(cached, computed)


def test_keys_follow_content_not_name(tones, tmp_path):
    run(tones[:1], tmp_path / "cache")
    copy = str(tmp_path / "renamed.wav")
    shutil.copy(tones[0], copy)
    assert file_digest(copy) == file_digest(tones[0])
    assert run([copy], tmp_path / "cache").hits == 1
    write_tone(copy, frequency=950.0)
    changed = run([copy], tmp_path / "cache")
    assert (changed.hits, changed.misses) == (0, 1)


def test_keys_include_segment_and_rate(tones):
    table = manifest([tones[0]] * 3, starts=[np.nan, 0.0, 0.0], ends=[np.nan, 0.2, 0.1])
    keys = row_keys(table, RATE)
    assert len(set(keys)) == 3
    assert row_keys(table, 8000) != keys
    assert row_keys(table, RATE) == keys


def test_segments_are_cached_separately(tones, tmp_path):
    result = run([tones[0], tones[0]], tmp_path / "cache", starts=[0.0, 0.0], ends=[0.3, 0.15])
    assert result.misses == 2
    assert result.arrays[0].shape[1] > result.arrays[1].shape[1]


def test_bad_files_are_listed_and_good_ones_extracted(tones, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF but not really a wave file" * 10)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(RATE), RATE)
    files = [tones[0], str(corrupt), tones[1], str(silent)]
    result = run(files, tmp_path / "cache")
    assert result.arrays[0] is not None and result.arrays[2] is not None
    assert result.arrays[1] is None and result.arrays[3] is None
    problems = {error["file"]: error["problem"] for error in result.errors}
    assert set(problems) == {str(corrupt), str(silent)}
    assert "cannot decode" in problems[str(corrupt)]
    assert "silent" in problems[str(silent)]
    # bad files are never cached: the next pass retries them
    rerun = run(files, tmp_path / "cache")
    assert (rerun.hits, rerun.misses, len(rerun.errors)) == (2, 2, 2)


@pytest.fixture
def pool_methods(monkeypatch):
    """Start methods of the worker pools created during a test."""
    methods = []
    get_context = multiprocessing.get_context
    monkeypatch.setattr(
        multiprocessing, "get_context", lambda method: methods.append(method) or get_context(method)
    )
    return methods


def test_two_workers_match_one(tones, tmp_path, pool_methods):
    serial = run(tones, tmp_path / "serial")
    parallel = run(tones, tmp_path / "parallel", workers=2)
    assert len(pool_methods) == 1  # a real pool, not the in-process path
    assert (parallel.misses, parallel.errors) == (8, [])
    for one, two in zip(serial.arrays, parallel.arrays):
        np.testing.assert_array_equal(one, two)
    assert run(tones, tmp_path / "parallel").hits == 8  # workers wrote to the shared cache


def test_partial_pass_resumes(tones, tmp_path):
    run(tones[:5], tmp_path / "cache")  # a pass killed after five files
    leftover = tmp_path / "cache"
    next(leftover.iterdir()).joinpath("zz").mkdir()
    (next(leftover.iterdir()) / "zz" / "half.tmp").write_bytes(b"\x93NUMPY")
    resumed = run(tones, tmp_path / "cache")
    assert (resumed.hits, resumed.misses) == (5, 3)
    assert all(array is not None for array in resumed.arrays)
    assert run(tones, tmp_path / "cache").hits == 8


def test_few_files_run_in_process(tones, tmp_path, pool_methods):
    assert run(tones[:7], tmp_path / "cache", workers=4).misses == 7
    assert pool_methods == []


def test_two_workers_after_torch_import(tones, tmp_path, pool_methods):
    # with torch loaded, workers are spawned: upstream and cache must survive pickling
    pytest.importorskip("torch")
    serial = run(tones, tmp_path / "serial")
    parallel = run(tones, tmp_path / "parallel", workers=2)
    assert pool_methods == ["spawn"] and parallel.errors == []
    for one, two in zip(serial.arrays, parallel.arrays):
        np.testing.assert_array_equal(one, two)


# --- the cache is never a way around validation, nor a source of wrong values ---


def run_with(files, cache_root, level="frames", upstream=None, **options):
    upstream = upstream or LogMel(num_mels=16)
    cache = FeatureCache(root=cache_root, identity=upstream.identity())
    return extract_features(
        manifest(files),
        upstream,
        cache=cache,
        audio_options={**OPTIONS, **options},
        progress=False,
        level=level,
    )


def entry_path(file, cache_root, level="frames"):
    cache = FeatureCache(root=cache_root, identity=LogMel(num_mels=16).identity())
    store = cache if level == "frames" else pooled_cache(cache)
    return store, row_keys(manifest([file]), RATE)[0]


class BatchedFrames:
    """A tiny neural-style upstream: (2, T, 4) from 10 ms frames, run on batches."""

    sample_rate = RATE
    batch_size = 2

    def identity(self):
        return {"upstream": "batched-frames"}

    def extract(self, wave):
        return self.extract_batch([wave])[0]

    def extract_batch(self, waves):
        outputs = []
        for wave in waves:
            frames = wave[: len(wave) // 160 * 160].reshape(-1, 160)
            outputs.append(np.stack([frames[:, :4], frames[:, 4:8]]).astype(np.float32))
        return outputs


@pytest.mark.parametrize("level", ["frames", "pooled"])
@pytest.mark.parametrize("upstream", [None, BatchedFrames()], ids=["processes", "batched"])
@pytest.mark.parametrize(
    "limit", [{"max_duration": 0.25}, {"min_duration": 0.35}], ids=["max", "min"]
)
def test_hit_rechecks_duration_limits(tones, tmp_path, level, upstream, limit):
    filled = run_with(tones[:2], tmp_path / "cache", level, upstream)  # limits 0.1 .. 10 s
    assert filled.errors == [] and filled.misses == 2
    tight = run_with(tones[:2], tmp_path / "cache", level, upstream, **limit)
    fresh = run_with(tones[:2], tmp_path / "fresh", level, upstream, **limit)
    assert (tight.hits, tight.misses, fresh.misses) == (2, 0, 2)
    assert tight.arrays == [None, None]
    assert tight.errors == fresh.errors  # load_audio's own words, 0.3 s clips
    expected = "too long: 0.3 s > max_duration 0.25 s" if "max_duration" in limit else (
        "too short: 0.300 s < min_duration 0.35 s")  # fmt: skip
    assert [error["problem"] for error in tight.errors] == [expected] * 2
    relaxed = run_with(tones[:2], tmp_path / "cache", level, upstream)
    assert (relaxed.hits, relaxed.errors) == (2, [])


def test_entry_records_native_duration_and_rate(tmp_path):
    path = str(tmp_path / "native.wav")
    sf.write(path, 0.2 * np.sin(np.arange(13230) / 7.0), 44100)  # 0.3 s at 44.1 kHz
    run_with([path], tmp_path / "cache")
    store, key = entry_path(path, tmp_path / "cache")
    entry = store.load(key)
    assert (entry.duration, entry.sample_rate) == (0.3, 44100)
    assert run_with([path], tmp_path / "cache", max_duration=0.29).errors[0]["problem"] == (
        "too long: 0.3 s > max_duration 0.29 s"
    )


def _altered(path, store, key):  # valid file, old checksum, other values
    with safe_open(str(path), framework="np") as handle:
        metadata, array = handle.metadata(), handle.get_tensor("features")
    path.write_bytes(safetensors.numpy.save({"features": array * 0.5}, metadata=metadata))


def _flipped(path, store, key):
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x55  # the last bytes are array data
    path.write_bytes(bytes(data))


def _truncated(path, store, key):
    path.write_bytes(path.read_bytes()[:-64])


def _forge(path, key, array):  # what a buggy writer could leave: a valid checksum
    with safe_open(str(path), framework="np") as handle:
        metadata = handle.metadata()
    duration, rate = float(metadata["duration"]), int(metadata["sample_rate"])
    metadata["checksum"] = entry_checksum(key, array, duration, rate)
    path.write_bytes(safetensors.numpy.save({"features": array}, metadata=metadata))


def _nan(path, store, key):
    array = store.load(key).array.copy()
    array[0, 0, 0] = np.nan
    _forge(path, key, array)


def _wrong_shape(path, store, key):
    _forge(path, key, np.ones((1, 2, 9), dtype=np.float32))


def _wrong_middle_axis(path, store, key):
    array = store.load(key).array
    _forge(path, key, np.concatenate([array, array], axis=1))


@pytest.mark.parametrize("level", ["frames", "pooled"])
@pytest.mark.parametrize(
    "damage, problem",
    [
        (_altered, "checksum mismatch"),
        (_flipped, "checksum mismatch"),
        (_truncated, "unreadable"),
        (_nan, "NaN or infinite values"),
        (_wrong_shape, "shape (1, 2, 9) disagrees with the store"),
    ],
)
def test_corrupt_entries_are_recomputed(tones, tmp_path, caplog, level, damage, problem):
    original = run_with(tones[:3], tmp_path / "cache", level)
    store, key = entry_path(tones[1], tmp_path / "cache", level)
    damage(store.path(key), store, key)
    caplog.set_level(logging.WARNING, logger="emotransfer")
    repaired = run_with(tones[:3], tmp_path / "cache", level)
    assert (repaired.hits, repaired.misses, repaired.corrupt, repaired.errors) == (2, 1, 1, [])
    for fixed, computed in zip(repaired.arrays, original.arrays):
        np.testing.assert_array_equal(fixed, computed)
    assert f"cache entry {store.path(key)}: {problem}" in caplog.text
    assert "; recomputing" in caplog.text
    clean = run_with(tones[:3], tmp_path / "cache", level)
    assert (clean.hits, clean.corrupt) == (3, 0)  # the entry was rewritten


def test_statistics_entry_of_frame_shape_is_recomputed(tones, tmp_path, caplog):
    original = run_with(tones[:2], tmp_path / "cache", "pooled")
    store, key = entry_path(tones[0], tmp_path / "cache", "pooled")
    _wrong_middle_axis(store.path(key), store, key)  # (L + 1, 4, D): L + 1 and D agree
    repaired = run_with(tones[:2], tmp_path / "cache", "pooled")
    assert (repaired.corrupt, repaired.errors) == (1, [])
    np.testing.assert_array_equal(repaired.arrays[0], original.arrays[0])
    assert "is not (L + 1, 2, D); recomputing" in caplog.text


def test_missing_file_with_cached_features_is_a_problem(tones, tmp_path):
    run_with(tones[:3], tmp_path / "cache")
    Path(tones[1]).unlink()
    result = run_with(tones[:3], tmp_path / "cache")
    assert result.errors == [{"file": tones[1], "problem": "file does not exist"}]
    assert result.arrays[1] is None and result.arrays[0] is not None
    assert (result.hits, result.misses) == (2, 0)
    assert row_keys(manifest(tones[:3]), RATE)[1] is None
