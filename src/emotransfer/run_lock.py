"""An advisory lock on a run folder, so two processes never write one folder at once.

The lock is ``fcntl.flock`` on ``<folder>/.lock``: the operating system releases it when the
holding process ends, killed or not, so a stale lock never blocks a resume. The file keeps
the holder's process id and start time, which the refusal names.

A run folder writes only its own files (as git never follows a symbolic link inside ``.git``):
``.lock`` is opened without following a link and must be a regular file of its own (one
hard link), and a folder that holds a symbolic link anywhere (``folds/``, ``models/``, a
report file) is refused before anything is written, naming the link, so that no write of
the run goes through a link to a file outside the folder.

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
import errno
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from emotransfer.io import RunFolderError, file_kind


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
        handle = _open_own(self.path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(handle)
            raise RunFolderBusy(
                f"run folder {self.folder} is in use by another run ({holder}); wait for it "
                "to finish or choose another name / --run-dir"
            ) from None
        try:
            refuse_links(self.folder)
        except RunFolderError:
            os.close(handle)
            raise
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


def _open_own(path: Path) -> int:
    """Open (or create) the lock file ``path``: never through a symbolic link, never a file
    that is not a regular file of the folder's own.

    Raises:
        RunFolderError: ``path`` is a link, a directory, a FIFO, a device, or a file with
            other hard links (its truncation would change another file); named.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        handle = os.open(path, flags, 0o644)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path):
            raise RunFolderError(f"{path} is a symbolic link (to {os.readlink(path)}), not the "
                                 f"run folder's lock file; {_REMOVE}") from None  # fmt: skip
        if error.errno == errno.EISDIR:
            raise RunFolderError(f"{path} is a directory, not the run folder's lock file; "
                                 f"{_REMOVE}") from None  # fmt: skip
        raise
    status = os.fstat(handle)
    problem = None
    if not stat.S_ISREG(status.st_mode):
        problem = f"is {file_kind(status.st_mode)}, not the run folder's lock file"
    elif status.st_nlink > 1:
        problem = (f"has {status.st_nlink} hard links (another file shares it), so it is not "
                   "the run folder's own lock file")  # fmt: skip
    if problem:
        os.close(handle)
        raise RunFolderError(f"{path} {problem}; {_REMOVE}")
    return handle


_REMOVE = "nothing was written: remove it, or choose another --run-dir"


def refuse_links(folder: str | Path) -> None:
    """Refuse a run folder that holds a symbolic link anywhere below it (the folder itself
    may be one: the user named it).

    Raises:
        RunFolderError: names each link (up to five) and where it points.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / "folds").symlink_to("/tmp")
        >>> refuse_links(folder)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        emotransfer.io.RunFolderError: ...folds is a symbolic link (to /tmp) inside the run ...
    """
    links = []
    for parent, folders, files in os.walk(folder):
        links += [Path(parent) / name for name in folders + files
                  if os.path.islink(os.path.join(parent, name))]  # fmt: skip
        if len(links) > 5:
            break
    if links:
        named = "; ".join(f"{link} is a symbolic link (to {os.readlink(link)})"
                          for link in links[:5])  # fmt: skip
        raise RunFolderError(
            f"{named} inside the run folder {folder}: a run writes only its own files, never "
            f"through a link; {_REMOVE}"
        )
