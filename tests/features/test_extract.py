import multiprocessing
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotransfer.features.cache import FeatureCache
from emotransfer.features.extract import extract_features, file_digest, row_keys
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
