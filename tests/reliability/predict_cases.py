"""Predict cases: a run folder is untrusted input. Nothing it names may run code; a silent edit
is refused naming the changed file; malformed files are errors naming the file; bad clips
are named on stderr while the good ones are still predicted.

Most edits are "re-signed" (``files.json`` recomputed, as someone sharing a crafted folder
would do), so that the check under test is the one on the content, not the digest.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.reliability.case import Attempt, Registry
from tests.reliability.corpus import RATE, Exploit, tone
from tests.reliability.harness import Invocation, Observation, Workspace, expect_error, invoke

cases = Registry()
FOLD = "models/speaker=s01"


def predict(folder: Path, *files: Path) -> Invocation:
    return invoke(["predict", str(folder), *map(str, files)])


def resign(folder: Path) -> None:
    """Record the folder's current model files as the run's own (a self-consistent folder)."""
    from emotransfer.run_files import record_model_files

    record_model_files(folder)


def edit_spec(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    spec = json.loads((folder / "model.json").read_text())
    change(spec)
    (folder / "model.json").write_text(json.dumps(spec, indent=1))


def edit_head(folder: Path, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    import safetensors.numpy

    path = folder / FOLD / "head.safetensors"
    arrays = safetensors.numpy.load(path.read_bytes())
    change(arrays)
    path.write_bytes(safetensors.numpy.save(arrays))


def expect_changed_refused(call: Invocation, reference: str) -> Observation:
    """An error was due; exit 0 is a silent change whether or not the numbers moved."""
    seen = expect_error(call)
    if seen.kind == "silent":
        same = "the same" if call.out == reference else "other"
        return Observation("silent", f"exit 0 with {same} predictions:\n{call.out}")
    return seen


def expect_listed(call: Invocation, good: list[Path], bad: Path, kind: str) -> Observation:
    """The good clips predicted, ``bad`` named on stderr, exit 1: observed as ``kind``."""
    if call.traceback:
        return Observation("traceback", call.traceback)
    rows = {line.split(",", 1)[0] for line in call.out.splitlines()[1:]}
    if call.code == 0:
        return Observation("silent", f"exit 0, the bad clip predicted:\n{call.out}")
    if call.code != 1 or not {str(p) for p in good} <= rows or str(bad) not in call.err:
        return Observation("error", f"exit {call.code}, rows {sorted(rows)}:\n{call.err}")
    return Observation(kind, call.err)


def _tampered(edit: Callable[[Path], None], *, signed: bool, finetune: bool = False) -> Attempt:
    """An attempt: ``edit`` a copy of the frozen (or fine-tuning) run, predict; error due."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        copy = workspace.finetune_copy if finetune else workspace.baseline_copy
        folder = copy(case_id)
        edit(folder)
        if signed:
            resign(folder)
        reference = "" if finetune else workspace.reference_predictions
        return expect_changed_refused(predict(folder, *workspace.clips), reference)

    return attempt


def _spec(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return lambda folder: edit_spec(folder, change)


def _reorder(spec: dict[str, Any]) -> None:
    spec["classes"] = spec["classes"][::-1]


def _zero_scale(arrays: dict[str, np.ndarray]) -> None:
    arrays["scaler.scale"] = np.zeros_like(arrays["scaler.scale"])


def _zero_mean(arrays: dict[str, np.ndarray]) -> None:
    arrays["scaler.mean"] = np.zeros_like(arrays["scaler.mean"])


def _write(relative: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / relative).write_bytes(data)


def _truncate(relative: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / relative
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return edit


HEAD = f"{FOLD}/head.safetensors"
cases.add("predict-classes-reordered", "model.json classes reversed", "error", "model.json",
          "changed")(_tampered(_spec(_reorder), signed=False))  # fmt: skip
cases.add("predict-fewer-classes", "model.json with one class less", "error", "model.json",
          "changed")(_tampered(_spec(lambda s: s["classes"].pop()), signed=False))  # fmt: skip
cases.add("predict-fewer-classes-signed", "model.json with one class less, re-signed", "error",
          "model.json", "class")(_tampered(_spec(lambda s: s["classes"].pop()),
                                           signed=True))  # fmt: skip
cases.add("predict-normalization-none", "model.json normalization: none", "error", "model.json",
          "changed")(_tampered(_spec(lambda s: s.update(normalization="none")),
                               signed=False))  # fmt: skip
cases.add("predict-scaler-zeroed", "a fold's scaler.scale zeroed", "error", "head.safetensors",
          "changed")(_tampered(lambda f: edit_head(f, _zero_scale), signed=False))  # fmt: skip
cases.add("predict-scaler-zeroed-signed", "a fold's scaler.scale zeroed, re-signed", "error",
          "head.safetensors", "scale")(_tampered(lambda f: edit_head(f, _zero_scale),
                                                 signed=True))  # fmt: skip
cases.add("predict-scaler-mean-zeroed", "a fold's scaler.mean zeroed", "error",
          "head.safetensors", "changed")(_tampered(lambda f: edit_head(f, _zero_mean),
                                                   signed=False))  # fmt: skip
cases.add("predict-fold-deleted", "a fold folder deleted", "error", "missing")(
    _tampered(lambda f: shutil.rmtree(f / "models" / "speaker=s04"), signed=False)
)
cases.add("predict-layer-99", "model.json layer: 99, re-signed", "error", "model.json", "layer")(
    _tampered(_spec(lambda s: s.update(layer=99)), signed=True)
)
cases.add("predict-layer-text", 'model.json layer: "last", re-signed', "error", "model.json",
          "layer")(_tampered(_spec(lambda s: s.update(layer="last")), signed=True))  # fmt: skip
cases.add("predict-safetensors-truncated", "a fold's head.safetensors truncated", "error",
          "head.safetensors")(_tampered(_truncate(HEAD), signed=False))  # fmt: skip
cases.add("predict-safetensors-truncated-signed", "head.safetensors truncated, re-signed",
          "error", "head.safetensors")(_tampered(_truncate(HEAD), signed=True))  # fmt: skip
cases.add("predict-safetensors-empty-signed", "head.safetensors emptied, re-signed", "error",
          "head.safetensors")(_tampered(_write(HEAD, b""), signed=True))  # fmt: skip
cases.add("predict-model-json-not-json", "model.json not JSON, re-signed", "error",
          "model.json")(_tampered(_write("model.json", b"{not json"), signed=True))  # fmt: skip
cases.add("predict-model-json-list", "model.json a JSON list, re-signed", "error",
          "model.json")(_tampered(_write("model.json", b"[1, 2]"), signed=True))  # fmt: skip
cases.add("predict-finetune-weights-truncated", "a fine-tuned fold's weights truncated",
          "error", "trainable.safetensors")(
    _tampered(_truncate(f"{FOLD}/trainable.safetensors"), signed=True, finetune=True)
)  # fmt: skip


@cases.add("predict-clean", "nothing (an untouched copy of the run folder)", "ok")
def _clean(workspace: Workspace, case_id: str) -> Observation:
    call = predict(workspace.baseline_copy(case_id), *workspace.clips)
    if call.traceback:
        return Observation("traceback", call.traceback)
    if call.code != 0:
        return Observation("error", call.err)
    if call.out != workspace.reference_predictions:
        return Observation("silent", f"other predictions from a copy:\n{call.out}")
    return Observation("ok", call.out)


def _code_refused(call: Invocation, ran: list[str]) -> Observation:
    if ran:
        return Observation("unsafe", f"code named by the run folder ran: {ran}\n{call.err}")
    if call.traceback:
        return Observation("traceback", call.traceback)
    # An error, or a prediction that did not run the code (trust_remote_code ignored).
    return Observation("refused", call.err or call.out)


@cases.add("predict-upstream-class-path", 'model.json "upstream": "this:x", re-signed', "error",
           "model.json", "is a class path")  # fmt: skip
def _upstream_class_path(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    edit_spec(folder, lambda spec: spec.update(upstream="this:x"))
    resign(folder)
    sys.modules.pop("this", None)
    call = predict(folder, *workspace.clips)
    if "this" in sys.modules:
        return Observation("unsafe", f"model.json made emotransfer import `this`:\n{call.out}")
    return expect_error(call)


@cases.add("predict-upstream-class-path-unsigned", 'model.json "upstream": "this:x"', "error",
           "model.json")  # fmt: skip
def _upstream_unsigned(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.baseline_copy(case_id)
    edit_spec(folder, lambda spec: spec.update(upstream="this:x"))
    sys.modules.pop("this", None)
    call = predict(folder, *workspace.clips)
    if "this" in sys.modules:
        return Observation("unsafe", f"model.json made emotransfer import `this`:\n{call.out}")
    return expect_error(call)


def _popen(spec: dict[str, Any], marker: Path) -> None:
    spec.update(strategy="subprocess:Popen",
                strategy_params={"args": f"touch {marker}", "shell": True})  # fmt: skip


@cases.add("predict-strategy-popen", 'model.json "strategy": "subprocess:Popen" + a shell '
           "command, re-signed", "error", "is a class path")  # fmt: skip
def _strategy_popen(workspace: Workspace, case_id: str) -> Observation:
    folder, marker = workspace.finetune_copy(case_id), workspace.folder(case_id) / "marker"
    edit_spec(folder, lambda spec: _popen(spec, marker))
    resign(folder)
    call = predict(folder, *workspace.clips)
    if marker.exists():
        return Observation("unsafe", f"the shell command in model.json ran\n{call.err}")
    return expect_error(call)


@cases.add("predict-strategy-popen-unsigned", 'model.json "strategy": "subprocess:Popen"',
           "error", "model.json")  # fmt: skip
def _strategy_popen_unsigned(workspace: Workspace, case_id: str) -> Observation:
    folder, marker = workspace.finetune_copy(case_id), workspace.folder(case_id) / "marker"
    edit_spec(folder, lambda spec: _popen(spec, marker))
    call = predict(folder, *workspace.clips)
    if marker.exists():
        return Observation("unsafe", f"the shell command in model.json ran\n{call.err}")
    return expect_error(call)


def remote_code_model(workspace: Workspace, folder: Path, marker: Path) -> Path:
    """A copy of the tiny Whisper whose config names custom code (``auto_map``) that writes
    ``marker`` when transformers imports it, which only ``trust_remote_code=True`` does."""
    model = Path(shutil.copytree(workspace.tiny_whisper, folder))
    (model / "configuration_marker.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('remote code ran')\n"
        "from transformers import WhisperConfig\n\n\n"
        "class MarkerConfig(WhisperConfig):\n    pass\n"
    )
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_marker.MarkerConfig"}
    (model / "config.json").write_text(json.dumps(config))
    return model


@cases.add("predict-trust-remote-code-frozen", "model.json upstream hf with params "
           "{model: <custom code>, trust_remote_code: true}, re-signed", "refused")  # fmt: skip
def _remote_code_frozen(workspace: Workspace, case_id: str) -> Observation:
    folder, marker = workspace.baseline_copy(case_id), workspace.folder(case_id) / "marker"
    model = remote_code_model(workspace, workspace.folder(case_id) / "model", marker)
    edit_spec(folder, lambda spec: spec.update(
        upstream="hf", params={"model": str(model), "trust_remote_code": True}))  # fmt: skip
    resign(folder)
    call = predict(folder, *workspace.clips)
    return _code_refused(call, [str(marker)] if marker.exists() else [])


@cases.add("predict-trust-remote-code-finetune", "fine-tuning model.json naming a model with "
           "custom code and trust_remote_code: true, re-signed", "refused")  # fmt: skip
def _remote_code_finetune(workspace: Workspace, case_id: str) -> Observation:
    folder, marker = workspace.finetune_copy(case_id), workspace.folder(case_id) / "marker"
    model = remote_code_model(workspace, workspace.folder(case_id) / "model", marker)
    edit_spec(
        folder, lambda spec: spec["encoder_params"].update(model=str(model), trust_remote_code=True)
    )
    resign(folder)
    call = predict(folder, *workspace.clips)
    return _code_refused(call, [str(marker)] if marker.exists() else [])


@cases.add("predict-pickle-checkpoint", "fine-tuning model.json naming a model whose weights "
           "are a pickle that runs a command, re-signed", "error", "pickle")  # fmt: skip
def _pickle_checkpoint(workspace: Workspace, case_id: str) -> Observation:
    import torch

    folder, marker = workspace.finetune_copy(case_id), workspace.folder(case_id) / "marker"
    model = workspace.folder(case_id) / "model"
    model.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copy(workspace.tiny_whisper / name, model / name)
    torch.save({"weights": Exploit(f"touch {marker}")}, model / "pytorch_model.bin")
    edit_spec(folder, lambda spec: spec["encoder_params"].update(model=str(model)))
    resign(folder)
    call = predict(folder, *workspace.clips)
    if marker.exists():
        return Observation("unsafe", f"the pickled command ran\n{call.err}")
    return expect_error(call)


def _with_bad_clip(make: Callable[[Path], None], problem_kind: str) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        _ = workspace.baseline
        bad = workspace.folder(case_id) / "bad.wav"
        make(bad)
        good = workspace.clips[:4]
        call = predict(workspace.baseline_folder, good[0], good[1], bad, good[2], good[3])
        return expect_listed(call, good, bad, problem_kind)

    return attempt


cases.add("predict-one-corrupt-clip", "one corrupt clip among good ones", "skip",
          "bad.wav", "cannot decode")(_with_bad_clip(
              lambda p: p.write_bytes(b"RIFF not a wave file"), "skip"))  # fmt: skip
cases.add("predict-one-missing-clip", "one missing clip among good ones", "skip",
          "bad.wav", "does not exist")(_with_bad_clip(lambda p: None, "skip"))  # fmt: skip
cases.add("predict-one-silent-clip", "one silent clip among good ones", "skip",
          "bad.wav", "silent")(_with_bad_clip(
              lambda p: _write_wave(p, np.zeros(RATE, dtype=np.float32)), "skip"))  # fmt: skip


def _write_wave(path: Path, wave: np.ndarray) -> None:
    import soundfile

    soundfile.write(path, wave, RATE)


def _limited_run(workspace: Workspace) -> Path:
    call = workspace.run(workspace.clean, "max2s", "data.audio.max_duration=2")
    if call.code != 0:
        raise RuntimeError(f"the max_duration 2 run failed:\n{call.err}{call.traceback}")
    return workspace.root / "runs" / "max2s"


@cases.add("predict-longer-than-run-limit", "a 3 s clip for a run with max_duration 2 s",
           "refused", "bad.wav", "too long")  # fmt: skip
def _too_long(workspace: Workspace, case_id: str) -> Observation:
    folder = workspace.shared("max2s", lambda: _limited_run(workspace))
    bad = workspace.folder(case_id) / "bad.wav"
    _write_wave(bad, tone("anger", 3.0, seed=3))
    good = workspace.clips[:4]
    return expect_listed(predict(folder, *good, bad), good, bad, "refused")
