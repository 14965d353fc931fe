"""Atomic writes leave no half file and, when the disk fails them, name the file."""

import errno
import resource
import signal

import pytest

from emotransfer.io import file_kind, write_text


@pytest.fixture
def small_disk():
    """File writes past 1 kB fail in this process (EFBIG), as writes on a full disk do."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, limits[1]))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    signal.signal(signal.SIGXFSZ, handler)


def test_a_failed_write_names_the_file_and_leaves_the_old_one(tmp_path, small_disk):
    target = tmp_path / "metrics.json"
    write_text(target, "old")
    with pytest.raises(OSError, match=f"cannot write {target}: File too large") as raised:
        write_text(target, "x" * 4096)
    assert raised.value.errno == errno.EFBIG
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_folder_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "plain").write_text("a file, not a folder")
    with pytest.raises(OSError, match="cannot write .*plain/x.json"):
        write_text(tmp_path / "plain" / "x.json", "{}")


def test_file_kinds_are_said_in_words(tmp_path):
    import os

    assert file_kind(os.stat(tmp_path).st_mode) == "a directory"
    assert file_kind(os.stat("/dev/null").st_mode) == "a character device"


def test_written_files_get_the_users_umask_not_0600(tmp_path):
    import stat

    from emotransfer.io import UMASK

    write_text(tmp_path / "report.html", "<html></html>")
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o666 & ~UMASK
    (tmp_path / "report.html").chmod(0o640)  # a mode the user chose is kept on rewrite
    write_text(tmp_path / "report.html", "<html>new</html>")
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o640
