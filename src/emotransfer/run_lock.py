"""An advisory lock on a run folder, so two processes never write one folder at once.

The lock is ``fcntl.flock`` on ``<folder>/.lock``: the operating system releases it when the
holding process ends, killed or not, so a stale lock never blocks a resume. The file keeps
the holder's process id and start time, which the refusal names.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with RunLock(folder):
    ...     RunLock(folder).acquire()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emotransfer.run_lock.RunFolderBusy: run folder ... is in use by another run (pid ...
"""

from __future__ import annotations

import datetime
import fcntl
import os
from pathlib import Path
from types import TracebackType


class RunFolderBusy(RuntimeError):
    """Another process holds the run folder's lock."""


class RunLock:
    """Exclusive, non-blocking lock of one run folder (created if needed).

    Args:
        folder: the run folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = folder
        self._handle: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.folder) / ".lock"

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunFolderBusy` naming the holder."""
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(handle)
            raise RunFolderBusy(
                f"run folder {self.folder} is in use by another run ({holder}); wait for it "
                "to finish or choose another name / --run-dir"
            ) from None
        started = datetime.datetime.now().isoformat(timespec="seconds")
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"pid {os.getpid()}, started {started}\n".encode(), 0)
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            os.ftruncate(self._handle, 0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
