import platform

from emotransfer import memory


def test_large_blocks_go_back_to_the_system_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    memory.bound_memory.cache_clear()
    assert memory.bound_memory() is (platform.libc_ver()[0] == "glibc")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own choice stands
    memory.bound_memory.cache_clear()
    assert memory.bound_memory() is False
