"""Filesystem cases: a run writes only its own files (never through a symbolic or hard link
planted in its folder: the lock file, ``folds/``, ``models/``, a report file), odd files given
as audio are named for what they are (a FIFO, a device, a directory) without being opened,
and a write that fails (a full disk) names the file it stopped.

A case that finds a file outside the run folder changed is observed as ``outside``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.reliability.case import Attempt, Registry
from tests.reliability.corpus import add_row
from tests.reliability.harness import (
    Invocation,
    Observation,
    Workspace,
    expect_error,
    expect_result,
    expect_skip,
    invoke,
)

cases = Registry()
CLEAN_ROWS = 24
PRECIOUS = b"a file of the user's, outside the run folder\n"


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or ``path`` itself) and its bytes."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}  # fmt: skip


def expect_untouched(call: Invocation, watched: Path, before: dict[str, bytes]) -> Observation:
    """An error was due, and ``watched`` (outside the run folder) must be as it was."""
    after = snapshot(watched) if watched.exists() else {}
    if after != before:
        edited = {name for name in before if after.get(name) != before[name]}
        changed = sorted(set(before) ^ set(after) | edited)
        return Observation("outside", f"{watched}: {changed} changed by the run\n{call.err}")
    return expect_error(call)


def _victim(workspace: Workspace, case_id: str) -> Path:
    victim = workspace.folder(case_id) / "victim.txt"
    victim.write_bytes(PRECIOUS)
    return victim


def _planted_lock(plant: Callable[[Path, Path], None], *, resume: bool) -> Attempt:
    """``plant(lock, victim)`` in a fresh run folder (or a copy of the finished baseline run
    with ``resume``), then run into it."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        victim = _victim(workspace, case_id)
        if resume:
            folder = workspace.baseline_copy(case_id)
        else:
            folder = workspace.folder(case_id) / "run"
            folder.mkdir()
        (folder / ".lock").unlink(missing_ok=True)
        plant(folder / ".lock", victim)
        flags = ("--run-dir", str(folder), *(("--resume",) if resume else ()))
        call = workspace.run(workspace.clean, case_id, flags=flags)
        return expect_untouched(call, victim, {victim.name: PRECIOUS})

    return attempt


def _symlink(lock: Path, victim: Path) -> None:
    lock.symlink_to(victim)


def _hardlink(lock: Path, victim: Path) -> None:
    os.link(victim, lock)


cases.add("lock-symlink", "RUN/.lock a symbolic link to a file of the user's (fresh run)",
          "error", ".lock", "symbolic link")(_planted_lock(_symlink, resume=False))  # fmt: skip
cases.add("lock-symlink-resume", "RUN/.lock a symbolic link to a file (--resume of a copied run)",
          "error", ".lock", "symbolic link")(_planted_lock(_symlink, resume=True))  # fmt: skip
cases.add("lock-hardlink", "RUN/.lock a hard link to a file of the user's", "error", ".lock",
          "hard links")(_planted_lock(_hardlink, resume=False))  # fmt: skip
cases.add("lock-fifo", "RUN/.lock a FIFO", "error", ".lock", "FIFO")(
    _planted_lock(lambda lock, _: os.mkfifo(lock), resume=False)
)
cases.add("lock-directory", "RUN/.lock a directory", "error", ".lock", "a directory")(
    _planted_lock(lambda lock, _: lock.mkdir(), resume=False)
)


def _linked_folder(name: str) -> Attempt:
    """A fresh run folder whose ``name`` (``folds``, ``models``) is a symbolic link to an
    empty folder outside it, run into with ``--force``: a run that followed the link would
    write its results there."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        folder = workspace.folder(case_id) / "run"
        outside = workspace.folder(case_id) / f"outside-{name}"
        outside.mkdir()
        folder.mkdir()
        (folder / name).symlink_to(outside)
        call = workspace.run(workspace.clean, case_id, flags=("--run-dir", str(folder), "--force"))
        return expect_untouched(call, outside, {})

    return attempt


def _linked_file(name: str, *flags: str) -> Attempt:
    """A copy of the finished baseline run whose ``name`` (a result file) is a symbolic link
    to a file of the user's; the same run into the folder again."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        folder = workspace.baseline_copy(case_id)
        victim = _victim(workspace, case_id)
        (folder / name).unlink()
        (folder / name).symlink_to(victim)
        call = workspace.run(workspace.clean, "baseline", flags=("--run-dir", str(folder), *flags))
        return expect_untouched(call, victim, {victim.name: PRECIOUS})

    return attempt


for entry in ("folds", "models"):
    cases.add(f"symlinked-{entry}", f"RUN/{entry} a symbolic link to an empty folder outside "
              "the run folder (fresh run, --force)", "error", entry, "symbolic link")(
                  _linked_folder(entry))  # fmt: skip
for entry, flags in [("report.html", ()), ("metrics.json", ("--resume",))]:
    cases.add(f"symlinked-{entry.replace('.', '-')}", f"RUN/{entry} a symbolic link to a file "
              f"of the user's ({' '.join(flags) or 're-run'})", "error", entry,
              "symbolic link")(_linked_file(entry, *flags))  # fmt: skip


@cases.add("run-dir-is-a-link", "--run-dir a symbolic link to an empty folder (the user's "
           "choice: followed)", "ok")  # fmt: skip
def _run_dir_link(workspace: Workspace, case_id: str) -> Observation:
    target = workspace.folder(case_id) / "target"
    target.mkdir()
    link = workspace.folder(case_id) / "link"
    link.symlink_to(target)
    call = workspace.run(workspace.clean, case_id, flags=("--run-dir", str(link)))
    return expect_result(call, workspace.baseline["summary"], CLEAN_ROWS)


ODD_FILES: dict[str, tuple[Callable[[Path], str], str]] = {
    "fifo": (lambda folder: _fifo(folder / "pipe.wav"), "a FIFO (named pipe), not a regular file"),
    "directory": (lambda folder: _directory(folder / "folder.wav"), "a directory, not a regular"),
    "device": (lambda folder: "/dev/zero", "a character device, not a regular file"),
}


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return str(path)


def _directory(path: Path) -> str:
    path.mkdir()
    return str(path)


def _odd_in_manifest(kind: str) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        corpus = workspace.corpus_copy(case_id)
        path = ODD_FILES[kind][0](corpus / "audio")
        name = Path(path).name
        if kind == "device":
            add_row(corpus, "x.wav")  # then point the row at /dev/zero
            table = (corpus / "metadata.csv").read_text().replace("audio/x.wav", path)
            (corpus / "metadata.csv").write_text(table)
        else:
            add_row(corpus, name)
        call = workspace.run(corpus, case_id, "data.audio.on_error=skip")
        return expect_skip(call, [name], CLEAN_ROWS)

    return attempt


def _odd_to_predict(kind: str) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        _ = workspace.baseline
        odd = ODD_FILES[kind][0](workspace.folder(case_id))
        good = workspace.clips[:3]
        call = invoke(["predict", workspace.baseline_folder, good[0], odd, *good[1:]])
        if call.traceback:
            return Observation("traceback", call.traceback)
        rows = {line.split(",", 1)[0] for line in call.out.splitlines()[1:]}
        if call.code != 1 or rows != {str(p) for p in good}:
            return Observation("error", f"exit {call.code}, rows {sorted(rows)}:\n{call.err}")
        return Observation("skip", call.err)

    return attempt


for kind, (_, said) in ODD_FILES.items():
    cases.add(f"audio-{kind}-in-manifest", f"a manifest row naming a {kind} (on_error=skip)",
              "skip", said)(_odd_in_manifest(kind))  # fmt: skip
    cases.add(f"predict-{kind}-clip", f"predict given a {kind} among good clips", "skip",
              said)(_odd_to_predict(kind))  # fmt: skip


DISK_LIMIT = 8192  # bytes: past this every write of the process fails, as on a full disk
FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from emotransfer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _disk_full(*, warm_cache: bool) -> Attempt:
    """The clean run in a process whose file writes fail past :data:`DISK_LIMIT` bytes, with
    a fresh cache (filled first: its statistics entries are smaller than the limit, so the
    first failing write is the run folder's) or the warm one (a run-folder write)."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        _ = workspace.baseline  # fills the shared cache
        cache = workspace.cache if warm_cache else workspace.folder(case_id) / "cache"
        args = workspace.run_args(workspace.clean, case_id, cache=cache)
        script = FULL_DISK.format(limit=DISK_LIMIT)
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                              text=True, timeout=300,
                              cwd=Path(__file__).resolve().parents[2])  # fmt: skip
        call = Invocation(args, done.returncode, done.stdout, done.stderr)
        if "Traceback (most recent call last)" in done.stderr:
            call.traceback = done.stderr
        return expect_error(call)

    return attempt


cases.add("disk-full", f"every file write past {DISK_LIMIT} bytes fails (a full disk; "
          "RLIMIT_FSIZE), fresh cache", "error", "cannot write", "disk-full/")(
              _disk_full(warm_cache=False))  # fmt: skip
cases.add("disk-full-run-folder", f"every file write past {DISK_LIMIT} bytes fails, warm "
          "cache", "error", "cannot write", "disk-full-run-folder/")(
              _disk_full(warm_cache=True))  # fmt: skip
