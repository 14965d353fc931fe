import json
import multiprocessing

import numpy as np

from emotransfer.features.cache import FeatureCache, default_cache_dir, identity_digest

IDENTITY = {"upstream": "demo", "layers": 2}


def make_cache(root, identity=IDENTITY):
    return FeatureCache(root=root, identity=identity)


def test_round_trip(tmp_path):
    cache = make_cache(tmp_path)
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert cache.get("abcdef") is None
    cache.put("abcdef", array)
    np.testing.assert_array_equal(cache.get("abcdef"), array)
    mapped = cache.get("abcdef", mmap=True)
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped, array)
    assert cache.path("abcdef") == cache.folder / "ab" / "abcdef.npy"


def test_constructor_stores_arguments(tmp_path):
    cache = make_cache(str(tmp_path))
    assert cache.root == str(tmp_path) and cache.identity is IDENTITY


def test_identities_are_isolated(tmp_path):
    first = make_cache(tmp_path)
    second = make_cache(tmp_path, {"upstream": "demo", "layers": 3})
    first.put("key1", np.ones((1, 1, 2), dtype=np.float32))
    assert second.get("key1") is None
    assert first.folder != second.folder
    assert first.folder.name.startswith("demo-")
    # the digest depends on content, not on key order
    assert identity_digest({"a": 1, "b": 2}) == identity_digest({"b": 2, "a": 1})
    assert make_cache(tmp_path, dict(reversed(list(IDENTITY.items())))).get("key1") is not None


def test_identity_json_written(tmp_path):
    cache = make_cache(tmp_path, {"upstream": "org/model", "version": "1.0"})
    cache.put("key1", np.zeros(3, dtype=np.float32))
    assert "/" not in cache.folder.name
    assert json.loads((cache.folder / "identity.json").read_text()) == cache.identity


def test_no_temporary_files_left(tmp_path):
    cache = make_cache(tmp_path)
    for index in range(5):
        cache.put(f"key{index}", np.full((1, 2, 3), index, dtype=np.float32))
    assert not list(tmp_path.rglob("*.tmp"))
    assert len(list(tmp_path.rglob("*.npy"))) == 5


def test_truncated_or_corrupt_entry_is_a_miss(tmp_path):
    cache = make_cache(tmp_path)
    cache.put("truncated", np.ones((4, 100), dtype=np.float32))
    path = cache.path("truncated")
    path.write_bytes(path.read_bytes()[:200])
    assert cache.get("truncated") is None
    assert cache.get("truncated", mmap=True) is None
    cache.put("garbage", np.ones(3, dtype=np.float32))
    cache.path("garbage").write_bytes(b"not an array at all")
    assert cache.get("garbage") is None
    cache.put("garbage", np.full(3, 7, dtype=np.float32))  # recomputed value overwrites it
    np.testing.assert_array_equal(cache.get("garbage"), [7, 7, 7])


def _write_same_key(root, value):
    cache = FeatureCache(root=root, identity=IDENTITY)
    for _ in range(20):
        cache.put("shared", np.full((1, 50, 40), value, dtype=np.float32))


def test_concurrent_writers_of_one_key(tmp_path):
    context = multiprocessing.get_context("fork")  # the writers use numpy only
    writers = [context.Process(target=_write_same_key, args=(tmp_path, v)) for v in (1.0, 2.0)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    array = make_cache(tmp_path).get("shared")
    assert array.shape == (1, 50, 40)
    assert np.unique(array).tolist() in ([1.0], [2.0])  # one whole entry, never a mix
    assert not list(tmp_path.rglob("*.tmp"))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTRANSFER_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("EMOTRANSFER_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "emotransfer")
