import json
import multiprocessing

import numpy as np
import pytest
import safetensors.numpy

from emotransfer.features.cache import (
    CorruptEntry,
    Entry,
    FeatureCache,
    default_cache_dir,
    entry_checksum,
    identity_digest,
)

IDENTITY = {"upstream": "demo", "layers": 2}


def make_cache(root, identity=IDENTITY):
    return FeatureCache(root=root, identity=identity)


def test_round_trip(tmp_path):
    cache = make_cache(tmp_path)
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert cache.get("abcdef") is None
    cache.put("abcdef", array)
    np.testing.assert_array_equal(cache.get("abcdef"), array)
    np.testing.assert_array_equal(cache.get("abcdef", mmap=True), array)  # older keyword
    assert cache.path("abcdef") == cache.folder / "ab" / "abcdef.safetensors"
    entry = cache.load("abcdef")
    assert isinstance(entry, Entry) and (entry.duration, entry.sample_rate) == (None, None)


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
    assert len(list(tmp_path.rglob("*.safetensors"))) == 5


def test_truncated_or_corrupt_entry_is_a_miss(tmp_path, caplog):
    cache = make_cache(tmp_path)
    cache.put("truncated", np.ones((4, 100), dtype=np.float32))
    path = cache.path("truncated")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptEntry, match="unreadable"):
        cache.load("truncated")
    assert cache.get("truncated") is None
    assert not path.exists()  # deleted, so the next pass recomputes it
    assert f"cache entry {path}: unreadable" in caplog.text
    cache.put("garbage", np.ones((4, 100), dtype=np.float32))
    cache.path("garbage").write_bytes(b"not an array at all")
    assert cache.get("garbage") is None
    cache.put("garbage", np.full((4, 100), 7, dtype=np.float32))  # recomputed value overwrites it
    np.testing.assert_array_equal(cache.get("garbage"), np.full((4, 100), 7))


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


def forge(cache, key, array, duration=None, sample_rate=None, checksum=None):
    """Write a well-formed entry past put(): a valid checksum unless one is given."""
    metadata = {"format": "emotransfer-feature-cache/2"}
    metadata["checksum"] = checksum or entry_checksum(key, array, duration, sample_rate)
    if duration is not None:
        metadata["duration"] = repr(duration)
    if sample_rate is not None:
        metadata["sample_rate"] = str(sample_rate)
    cache.path(key).parent.mkdir(parents=True, exist_ok=True)
    cache.path(key).write_bytes(safetensors.numpy.save({"features": array}, metadata=metadata))


def test_duration_and_rate_are_kept(tmp_path):
    cache = make_cache(tmp_path)
    array = np.ones((2, 3, 4), dtype=np.float16)
    cache.put("key1", array, duration=1.25, sample_rate=44100)
    entry = cache.load("key1")
    assert (entry.duration, entry.sample_rate, entry.array.dtype) == (1.25, 44100, np.float16)
    np.testing.assert_array_equal(entry.array, array)


def test_altered_values_fail_the_checksum(tmp_path, caplog):
    cache = make_cache(tmp_path)
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    cache.put("key1", array, duration=1.0, sample_rate=16000)
    original = entry_checksum("key1", array, 1.0, 16000)
    forge(cache, "key1", array + 1, duration=1.0, sample_rate=16000, checksum=original)
    with pytest.raises(CorruptEntry, match="checksum mismatch"):
        cache.load("key1")
    assert cache.get("key1") is None
    assert f"cache entry {cache.path('key1')}: checksum mismatch; recomputing" in caplog.text
    assert not cache.path("key1").exists()


def test_checksum_covers_duration_and_key(tmp_path):
    cache = make_cache(tmp_path)
    array = np.ones((2, 3, 4), dtype=np.float32)
    cache.put("key1", array, duration=700.0, sample_rate=16000)
    forge(cache, "key1", array, duration=7.0, sample_rate=16000,
          checksum=entry_checksum("key1", array, 700.0, 16000))  # fmt: skip
    assert cache.get("key1") is None  # a shortened duration cannot slip past max_duration
    cache.put("key1", array, duration=700.0, sample_rate=16000)
    cache.path("key2").parent.mkdir(parents=True, exist_ok=True)
    cache.path("key2").write_bytes(cache.path("key1").read_bytes())  # another key's entry
    with pytest.raises(CorruptEntry, match="checksum mismatch"):
        cache.load("key2")


def test_flipped_byte_is_corrupt(tmp_path):
    cache = make_cache(tmp_path)
    cache.put("key1", np.linspace(0, 1, 24, dtype=np.float32).reshape(2, 3, 4))
    data = bytearray(cache.path("key1").read_bytes())
    data[-5] ^= 0xFF
    cache.path("key1").write_bytes(bytes(data))
    with pytest.raises(CorruptEntry, match="checksum mismatch"):
        cache.load("key1")


def test_shape_must_agree_with_the_store(tmp_path):
    cache = make_cache(tmp_path)
    cache.put("key1", np.ones((3, 5, 4), dtype=np.float32))
    cache.put("key2", np.ones((3, 9, 4), dtype=np.float32))  # T varies, L + 1 and D do not
    assert json.loads(cache.layout_path.read_text()) == {"ndim": 3, "layers": 3, "dim": 4}
    forge(cache, "key3", np.ones((3, 5, 7), dtype=np.float32))
    with pytest.raises(CorruptEntry, match=r"shape \(3, 5, 7\) disagrees"):
        cache.load("key3")
    forge(cache, "key4", np.ones((3, 4), dtype=np.float32))
    with pytest.raises(CorruptEntry, match="disagrees"):
        make_cache(tmp_path).load("key4")  # a fresh instance reads layout.json
    with pytest.raises(ValueError, match="layout.json"):
        cache.put("key5", np.ones((2, 5, 4), dtype=np.float32))
    assert cache.get("key2").shape == (3, 9, 4)


def test_only_float_entries(tmp_path):
    cache = make_cache(tmp_path)
    with pytest.raises(ValueError, match="float"):
        cache.put("key1", np.ones((1, 2, 3), dtype=np.int32))
    forge(cache, "key1", np.ones((1, 2, 3), dtype=np.int32))
    with pytest.raises(CorruptEntry, match="dtype int32"):
        cache.load("key1")


def test_other_files_are_not_entries(tmp_path):
    cache = make_cache(tmp_path)
    cache.put("key1", np.ones((1, 2, 3), dtype=np.float32))
    legacy = cache.path("key2").with_suffix(".npy")  # the older format is simply a miss
    np.save(legacy, np.ones((1, 2, 3), dtype=np.float32))
    assert cache.load("key2") is None
    cache.path("key3").parent.mkdir(parents=True, exist_ok=True)
    cache.path("key3").write_bytes(
        safetensors.numpy.save({"features": np.ones((1, 2, 3), dtype=np.float32)})
    )
    with pytest.raises(CorruptEntry, match="unknown format"):
        cache.load("key3")


def test_the_modality_is_part_of_the_key_and_audio_keeps_its_folders(tmp_path):
    identity = {"upstream": "enc", "params": {"a": 1}}
    audio = FeatureCache(root=tmp_path, identity=identity)
    text = FeatureCache(root=tmp_path, identity=identity, modality="text")
    video = FeatureCache(root=tmp_path, identity=identity, modality="video")
    assert audio.folder == tmp_path / f"enc-{identity_digest(identity)}"  # as before
    assert len({audio.folder, text.folder, video.folder}) == 3
    audio.put("k1", np.ones((1, 1, 2), dtype="float32"), duration=1.0, sample_rate=16000)
    assert text.get("k1") is None and audio.get("k1") is not None
