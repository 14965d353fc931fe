import os
import signal
import subprocess
import sys
import time

import pytest

from emotransfer.run_lock import RunFolderBusy, RunLock


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
