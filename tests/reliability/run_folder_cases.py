"""Run-folder cases: a re-run or ``--resume`` after the corpus changed is refused naming what
changed, ``--force`` recomputes, a locked folder is refused, a failed run leaves a finished
folder as it was, and an interrupted run resumes to the same result."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.case import Attempt, Registry
from tests.reliability.corpus import RATE, Exploit, read_rows, tone, write_rows
from tests.reliability.harness import (
    Observation,
    Workspace,
    expect_error,
    expect_result,
    invoke,
    metrics,
)

cases = Registry()
CLEAN_ROWS = 24


def _relabel(corpus: Path) -> None:
    table = read_rows(corpus)
    table.loc[0, "emotion"] = "sadness"
    write_rows(corpus, table)


def _new_audio(corpus: Path) -> None:
    import soundfile

    table = read_rows(corpus)
    soundfile.write(corpus / table.loc[0, "file"], tone("sadness", 0.8, seed=999), RATE)


CHANGES = {"label": (_relabel, "label of 1 row"), "audio": (_new_audio, "audio of 1 file")}


def _changed(change: str, flags: tuple[str, ...]) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        corpus = workspace.corpus_copy(case_id)
        first = workspace.run(corpus, case_id)
        if first.code != 0:
            return Observation("error", f"the first run failed: {first.err}")
        CHANGES[change][0](corpus)
        return expect_error(workspace.run(corpus, case_id, flags=flags))

    return attempt


for change, (_, message) in CHANGES.items():
    cases.add(f"rerun-{change}-changed", f"a re-run after the {change} of one clip changed",
              "error", message)(_changed(change, ()))  # fmt: skip
    cases.add(f"resume-{change}-changed", f"--resume after the {change} of one clip changed",
              "error", message)(_changed(change, ("--resume",)))  # fmt: skip


@cases.add("force-after-change", "--force after a label changed: equals a fresh run", "ok")
def _forced(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    first = workspace.run(corpus, case_id)
    if first.code != 0:
        return Observation("error", f"the first run failed: {first.err}")
    _relabel(corpus)
    fresh = workspace.run(corpus, f"{case_id}-fresh")
    if fresh.code != 0:
        return Observation("error", f"the fresh run failed: {fresh.err}")
    due = metrics(workspace.root / "runs" / f"{case_id}-fresh")["summary"]
    return expect_result(workspace.run(corpus, case_id, flags=("--force",)), due, CLEAN_ROWS)


@cases.add("run-locked", "a run into a folder another run holds locked", "error",
           "in use by another run")  # fmt: skip
def _locked(workspace: Workspace, case_id: str) -> Observation:
    from emotransfer.run_lock import RunLock

    with RunLock(workspace.root / "runs" / case_id):
        return expect_error(workspace.run(workspace.clean, case_id))


@cases.add("failed-run-keeps-folder", "a failing run (typo'd upstream) into a finished folder",
           "error", "logmell")  # fmt: skip
def _failed_run(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    before = {name: (folder / name).read_bytes() for name in ("config.yaml", "metrics.json")}
    args = workspace.run_args(workspace.clean, "baseline", "features.upstream=logmell")
    call = invoke([*args, "--run-dir", str(folder)])
    changed = [name for name, data in before.items() if (folder / name).read_bytes() != data]
    if changed:
        return Observation("silent", f"the failed run rewrote {changed}: {call.err}")
    return expect_error(call)


def _rerun(*flags: str, remove: tuple[str, ...] = ()) -> Attempt:
    """The baseline config again into a copy of its folder (``remove``: files deleted first)."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        folder = workspace.baseline_copy(case_id)
        for name in remove:
            (folder / name).unlink()
        args = workspace.run_args(workspace.clean, "baseline")
        call = invoke([*args, "--run-dir", str(folder), *flags])
        return expect_result(call, workspace.baseline["summary"], CLEAN_ROWS)

    return attempt


cases.add("rerun-unchanged", "the same config and corpus run again", "ok")(_rerun())
cases.add("resume-after-kill", "--resume of a run killed after 3 of 4 folds", "ok")(
    _rerun("--resume", remove=("folds/speaker=s03.json", "metrics.json"))
)


@cases.add("rerun-config-changed", "a re-run with another seed (same folder)", "error",
           "config changed: seed")  # fmt: skip
def _config_changed(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    args = workspace.run_args(workspace.clean, "baseline", "seed=5")
    return expect_error(invoke([*args, "--run-dir", str(folder)]))


@cases.add("resume-no-run", "--resume into a folder that holds no run", "error", "holds no run")
def _resume_nothing(workspace: Workspace, case_id: str) -> Observation:
    return expect_error(workspace.run(workspace.clean, case_id, flags=("--resume",)))


@cases.add("resume-malicious-optimizer", "--resume of a fine-tuning fold whose optimizer.pt is "
           "a pickle that runs a command", "error", "optimizer.pt", "refused")  # fmt: skip
def _malicious_optimizer(workspace: Workspace, case_id: str) -> Observation:
    import torch

    folder, marker = workspace.finetune_copy(case_id), workspace.folder(case_id) / "marker"
    for name in ("folds/speaker=s01.json", "metrics.json"):  # killed before the fold ended
        (folder / name).unlink()
    checkpoint = folder / "models" / "speaker=s01" / "checkpoint"
    torch.save({"state": Exploit(f"touch {marker}")}, checkpoint / "optimizer.pt")
    call = invoke([*workspace.finetune_args(), "--resume", "--run-dir", str(folder)])
    if marker.exists():
        return Observation("unsafe", f"the pickled command in optimizer.pt ran\n{call.err}")
    return expect_error(call)
