import os
import re
import signal
import subprocess
import sys
import time

import pytest

from emotransfer.io import RunFolderError
from emotransfer.run_lock import RunFolderBusy, RunLock, refuse_links


def test_second_lock_is_refused_naming_the_holder(tmp_path):
    busy = pytest.raises(RunFolderBusy, match=f"in use by another run \\(pid {os.getpid()},")
    with RunLock(tmp_path / "run"), busy:
        RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run"):  # released on exit
        pass


def test_lock_of_a_killed_process_is_released(tmp_path):
    folder = tmp_path / "run"
    script = (
        "import sys, time; from emotransfer.run_lock import RunLock; "
        f"RunLock({str(folder)!r}).acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy, match=f"pid {holder.pid}"):
            RunLock(folder).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    time.sleep(0.05)
    with RunLock(folder):
        pass


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("keep me")
    return path


@pytest.mark.parametrize("plant, named", [
    (lambda lock, victim: lock.symlink_to(victim), "is a symbolic link (to "),
    (lambda lock, victim: os.link(victim, lock), "has 2 hard links"),
    (lambda lock, victim: os.mkfifo(lock), "is a FIFO (named pipe)"),
    (lambda lock, victim: lock.mkdir(), "is a directory"),
])  # fmt: skip
def test_a_lock_that_is_not_the_folders_own_file_is_refused_untouched(tmp_path, victim, plant,
                                                                      named):  # fmt: skip
    folder = tmp_path / "run"
    folder.mkdir()
    plant(folder / ".lock", victim)
    with pytest.raises(RunFolderError, match=re.escape(f"{folder / '.lock'} {named}")):
        RunLock(folder).acquire()
    assert victim.read_text() == "keep me"


def test_a_link_anywhere_inside_the_folder_is_refused_before_writing(tmp_path, victim):
    folder = tmp_path / "run"
    (folder / "models" / "fold").mkdir(parents=True)
    (folder / "models" / "fold" / "head.safetensors").symlink_to(victim)
    with pytest.raises(RunFolderError, match="models/fold/head.safetensors is a symbolic link"):
        RunLock(folder).acquire()
    assert not (folder / ".lock").read_text()  # nothing written, and the lock released
    with pytest.raises(RunFolderError):
        refuse_links(folder)
    (folder / "models" / "fold" / "head.safetensors").unlink()
    with RunLock(folder):
        assert "pid" in (folder / ".lock").read_text()


def test_the_run_folder_itself_may_be_a_link(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with RunLock(tmp_path / "link"):
        assert (tmp_path / "target" / ".lock").is_file()
