"""Atomic file writes, safe reads of stored arrays, and the package-version record of a run."""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PACKAGES = ["emotransfer", "numpy", "pandas", "scipy", "scikit-learn", "torch", "opensmile",
            "soundfile", "soxr", "pydantic", "transformers", "peft", "matplotlib"]  # fmt: skip


def _umask() -> int:
    mask = os.umask(0o022)  # read once, at import: changing it later races with threads
    os.umask(mask)
    return mask


UMASK = _umask()


class RunFolderError(ValueError):
    """A run folder whose model files cannot be used as they are (the message says which)."""


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)`` to a new file beside ``path``, then rename it over ``path``: a
    reader (or a killed process) never leaves or sees half a file. The one atomic write of
    the package; the temporary name ends in ``.tmp``, so writers that infer a format from
    the suffix must be told it.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a" / "b.txt"
        >>> write_atomic(target, lambda temporary: temporary.write_text("done"))
        >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
        ('done', ['b.txt'])
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")  # fmt: skip
    except OSError as error:
        raise named_os_error(error, path) from error
    os.close(handle)
    try:
        os.chmod(temporary, _mode_for(path))
        write(Path(temporary))
        os.replace(temporary, path)
    except OSError as error:
        raise named_os_error(error, path) from error
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_folder_atomic(folder: str | Path, write: Callable[[Path], object]) -> None:
    """``write(staging)`` into a fresh ``<name>.tmp`` folder beside ``folder``, then swap it
    in (the old folder renamed to ``<name>.old``, the staging folder to ``folder``, the old
    one removed): a killed process leaves the previous whole folder (as ``.old`` if it died
    between the two renames; readers look there, see :func:`whole_folder`) or the new one,
    never half of either. The folder counterpart of :func:`write_atomic`.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "checkpoint"
        >>> write_folder_atomic(target, lambda staging: (staging / "a.txt").write_text("1"))
        >>> write_folder_atomic(target, lambda staging: (staging / "b.txt").write_text("2"))
        >>> [p.name for p in target.iterdir()], [p.name for p in target.parent.iterdir()]
        (['b.txt'], ['checkpoint'])
    """
    folder = Path(folder)
    staging, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        write(staging)
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        os.replace(staging, folder)
    except OSError as error:  # a full disk names the folder it stopped
        raise named_os_error(error, folder) from error
    shutil.rmtree(old, ignore_errors=True)


def whole_folder(folder: str | Path) -> Path:
    """``folder``, or its ``.old`` twin when a :func:`write_folder_atomic` was killed between
    its two renames (the last whole version)."""
    folder = Path(folder)
    old = folder.with_name(folder.name + ".old")
    return old if not folder.exists() and old.exists() else folder


def _mode_for(path: Path) -> int:
    """The permissions a plain ``open(path, "w")`` would leave: an existing file's, else
    read-write as the user's umask allows (``mkstemp`` alone would leave 0600, so a
    colleague on a shared server could not read a report)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~UMASK


def named_os_error(error: OSError, path: Path) -> OSError:
    """``error`` (same type and errno) with a message that names the file being written
    (not its temporary twin): a full disk says which file it stopped."""
    reason = error.strerror or str(error)
    try:
        named = type(error)(error.errno, f"cannot write {path}: {reason}")
    except TypeError:  # an OSError subclass with another constructor
        named = OSError(error.errno, f"cannot write {path}: {reason}")
    return named


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words.

    Example:
        >>> file_kind(os.stat("/").st_mode)
        'a directory'
    """
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"),
             (stat.S_ISREG, "a regular file")]  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda temporary: temporary.write_bytes(data))


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically (see :func:`write_atomic`)."""
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=1, default=_plain) + "\n")


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages a result depends on."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a safetensors file, as numpy.

    Raises:
        RunFolderError: the file is empty, truncated or not safetensors (named).
    """
    from safetensors.numpy import load_file

    return _load(load_file, path)


def load_tensors(path: str | Path) -> dict[str, Any]:
    """Tensors of a safetensors file, as torch (on the CPU).

    Raises:
        RunFolderError: the file is empty, truncated or not safetensors (named).
    """
    from safetensors.torch import load_file

    return _load(load_file, path)


def _load(loader: Any, path: str | Path) -> dict[str, Any]:
    from safetensors import SafetensorError

    try:
        return loader(str(path))
    except (SafetensorError, OSError) as error:
        raise RunFolderError(f"{path}: not a readable safetensors file (empty, truncated or "
                             f"another format): {error}") from error  # fmt: skip
