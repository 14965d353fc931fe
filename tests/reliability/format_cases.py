"""Run-folder format cases: the format of ``model.json`` decides what a folder must hold. A
format-2 folder without ``files.json`` is refused (changed after the run, or unfinished:
named as such, with how to finish it), fewer fold models than ``model.json`` plans are
refused even with a matching record, only a format-1 folder loads without the record; an
unfinished run finishes with ``--resume`` and then predicts as the finished run did. A
``--plugin`` that cannot be imported is named even when nothing uses it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.reliability.case import Registry
from tests.reliability.harness import Observation, Workspace, expect_error, invoke
from tests.reliability.predict_cases import edit_spec, expect_changed_refused, predict, resign

cases = Registry()
LATER_FOLDS = ("speaker=s02", "speaker=s03", "speaker=s04")


def _kill_after_first_fold(folder: Path) -> None:
    """The folder as ``kill -9`` leaves a run after its first of four folds."""
    for name in ("files.json", "metrics.json", "predictions.csv", "report.html"):
        (folder / name).unlink(missing_ok=True)
    for fold in LATER_FOLDS:
        shutil.rmtree(folder / "models" / fold)
        (folder / "folds" / f"{fold}.json").unlink()


@cases.add("predict-files-json-deleted", "files.json deleted, model.json classes reversed",
           "error", "files.json is missing", "format 2")  # fmt: skip
def _record_deleted(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    (folder / "files.json").unlink()
    edit_spec(folder, lambda spec: spec.update(classes=spec["classes"][::-1]))
    return expect_changed_refused(predict(folder, *workspace.clips),
                                  workspace.reference_predictions)  # fmt: skip


@cases.add("predict-files-json-deleted-finetune", "files.json of a fine-tuning run deleted",
           "error", "files.json is missing")  # fmt: skip
def _record_deleted_finetune(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.finetune_copy(case_id)
    (folder / "files.json").unlink()
    return expect_changed_refused(predict(folder, *workspace.clips), "")


@cases.add("predict-unfinished-run", "a run killed after its first of four folds", "error",
           "an unfinished run (1 of 4 fold models", "--resume")  # fmt: skip
def _unfinished(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    _kill_after_first_fold(folder)
    return expect_changed_refused(predict(folder, *workspace.clips), "")


@cases.add("resume-unfinished-then-predict", "the killed run finished with --resume, then "
           "predict: the finished run's predictions", "ok")  # fmt: skip
def _finished_by_resume(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    _kill_after_first_fold(folder)
    args = workspace.run_args(workspace.clean, "baseline")
    resumed = invoke([*args, "--run-dir", str(folder), "--resume"])
    if resumed.code != 0:
        return expect_error(resumed)
    call = predict(folder, *workspace.clips)
    if call.traceback or call.code != 0:
        return expect_error(call)
    if call.out != workspace.reference_predictions:
        return Observation("silent", f"predictions differ from the finished run's:\n{call.out}")
    return Observation("ok", call.err)


@cases.add("predict-fold-deleted-signed", "a fold model deleted and files.json re-signed "
           "(3 of the 4 planned)", "error", "model.json plans 4 fold models")  # fmt: skip
def _fold_short(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    shutil.rmtree(folder / "models" / "speaker=s04")
    resign(folder)
    return expect_changed_refused(predict(folder, *workspace.clips),
                                  workspace.reference_predictions)  # fmt: skip


@cases.add("predict-format-1-without-record", "a format-1 frozen folder (no format key) "
           "without files.json: loads, with a warning", "ok", "format 1")  # fmt: skip
def _format_one(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    spec = json.loads((folder / "model.json").read_text())
    for key in ("format", "folds"):
        spec.pop(key, None)
    (folder / "model.json").write_text(json.dumps(spec, indent=1))
    (folder / "files.json").unlink()
    call = predict(folder, *workspace.clips)
    if call.traceback or call.code != 0:
        return expect_error(call)
    if call.out != workspace.reference_predictions:
        return Observation("silent", f"other predictions:\n{call.out}")
    return Observation("ok", "\n".join(call.warnings))


def _plugin(plugin: str):
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        _ = workspace.baseline
        args = ["predict", workspace.baseline_folder, *workspace.clips, "--plugin", plugin]
        return expect_error(invoke(args))

    return attempt


cases.add("predict-plugin-unimportable", "predict --plugin no.such:Module (unused)", "error",
          "no.such:Module", "cannot import")(_plugin("no.such:Module"))  # fmt: skip
cases.add("predict-plugin-not-class-path", "predict --plugin justaname", "error",
          "justaname", "module:Class")(_plugin("justaname"))  # fmt: skip
cases.add("predict-plugin-no-class", "predict --plugin json:NoSuchClass", "error",
          "json:NoSuchClass", "has no")(_plugin("json:NoSuchClass"))  # fmt: skip
