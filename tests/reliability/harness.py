"""Driving the real command line in-process and reading what it did.

:func:`invoke` calls ``emotransfer.cli.main`` with stdout, stderr and the ``emotransfer``
warnings captured; an exception that escapes ``main`` is caught and kept as a traceback.
An :class:`Observation` is what a case saw, one of :data:`KINDS`. :class:`Workspace` builds
what the cases share (the clean corpus, its feature cache, a finished frozen run and a
fine-tuning run) once, lazily, under one folder.

Example:
    >>> call = invoke(["run", "/no/such/config.yaml"])
    >>> call.code, "/no/such/config.yaml" in call.err, call.traceback
    (2, True, '')
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import traceback
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tests.reliability.corpus import write_corpus

from emotransfer.cli import main

# What a case can see. error: exit 2 with a message; skip: exit 0 with the input listed as
# skipped (predict: exit 1, the file named on stderr, the good rows printed); refused: an
# unsafe input not acted on; ok: exit 0 with the clean result; silent: exit 0 with another
# result (or no error where one was due); traceback: an exception escaped main; unsafe: code
# named by the input ran; outside: a file outside the run folder was written.
KINDS = ("error", "skip", "refused", "ok", "silent", "traceback", "unsafe", "outside")
# Every run: a fast frozen upstream, a head with one grid point (no inner search), one
# worker, no bootstrap.
RUN_OPTIONS = ("features.workers=1", "features.upstream=logmel", "head.name=logreg",
               "head.grid={C: [1.0]}", "evaluation.bootstrap=0")  # fmt: skip


@dataclass
class Invocation:
    """One call of ``main``: exit code (``None`` if it raised), output, warnings, traceback."""

    argv: list[str]
    code: int | None
    out: str
    err: str
    warnings: list[str] = field(default_factory=list)
    traceback: str = ""


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def invoke(argv: list[str]) -> Invocation:
    """Run ``emotransfer <argv>`` in this process; never raises."""
    out, err, records = io.StringIO(), io.StringIO(), _Records()
    logger = logging.getLogger("emotransfer")
    logger.addHandler(records)
    code: int | None = None
    trace = ""
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code if isinstance(stop.code, int) else 2
    except Exception:
        trace = traceback.format_exc()
    finally:
        logger.removeHandler(records)
    return Invocation([str(a) for a in argv], code, out.getvalue(), err.getvalue(),
                      records.messages, trace)  # fmt: skip


@dataclass
class Observation:
    """What a case saw: one of :data:`KINDS`, and the text its expectations are checked in."""

    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"observation kind {self.kind!r}; known: {KINDS}")


def expect_error(call: Invocation) -> Observation:
    """An error was due: a traceback, the error message, or (exit 0) a silent change."""
    if call.traceback:
        return Observation("traceback", call.traceback)
    if call.code == 0:
        return Observation("silent", f"exit 0 where an error was due:\n{call.out}{call.err}")
    return Observation("error", call.err)


def expect_skip(call: Invocation, names: list[str], rows: int) -> Observation:
    """Files ``names`` were due to be skipped and listed, the other ``rows`` rows used."""
    if call.traceback:
        return Observation("traceback", call.traceback)
    if call.code != 0:
        return Observation("error", call.err)
    data = metrics(run_folder(call))["data"]
    listed = "\n".join(f"{Path(s['file']).name}: {s['problem']}" for s in data["skipped_files"])
    named = {Path(s["file"]).name for s in data["skipped_files"]}
    if not set(names) <= named or data["n_files"] != rows:
        return Observation("silent", f"{data['n_files']} rows used (due: {rows}), skipped: "
                                     f"[{listed}]; due to be listed: {names}")  # fmt: skip
    return Observation("skip", listed)


def expect_result(call: Invocation, due: dict[str, Any] | None, rows: int) -> Observation:
    """A clean outcome was due: exit 0, every one of ``rows`` rows used, nothing skipped and
    (``due``, a metrics.json ``summary``) the same scores."""
    if call.traceback:
        return Observation("traceback", call.traceback)
    if call.code != 0:
        return Observation("error", call.err)
    found = metrics(run_folder(call))
    data = found["data"]
    text = "\n".join(call.warnings)
    if data["n_files"] != rows or data["skipped_files"]:
        return Observation("silent", f"{data['n_files']} rows used (due: {rows}), skipped: "
                                     f"{data['skipped_files']}")  # fmt: skip
    if due is not None and found["summary"] != due:
        return Observation("silent", f"summary {found['summary']}, clean: {due}\n{text}")
    return Observation("ok", text)


def metrics(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "metrics.json").read_text())


def run_folder(call: Invocation) -> Path:
    """The run folder a successful ``run`` printed."""
    line = next(line for line in call.out.splitlines() if line.startswith("run folder: "))
    return Path(line.removeprefix("run folder: "))


class Workspace:
    """What the cases share, built on first use under ``root``.

    Args:
        root: an empty folder for corpora, caches and run folders.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._shared: dict[str, Any] = {}

    def shared(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()``, called once per workspace for ``key`` (a resource some cases share)."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

    def folder(self, case_id: str) -> Path:
        """A new folder for one case."""
        path = self.root / "cases" / case_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def config(self) -> Path:
        path = self.root / "experiment.yaml"
        path.write_text("name: experiment\n")
        return path

    @cached_property
    def clean(self) -> Path:
        return write_corpus(self.root / "clean")

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def corpus_copy(self, case_id: str) -> Path:
        return Path(shutil.copytree(self.clean, self.folder(case_id) / "corpus"))

    def cache_copy(self, case_id: str) -> Path:
        """A private copy of the cache the baseline run filled."""
        _ = self.baseline  # fills the cache
        return Path(shutil.copytree(self.cache, self.folder(case_id) / "cache"))

    def run_args(
        self, corpus: Path, name: str, *overrides: str, cache: Path | None = None,
        output: Path | None = None,
    ) -> list[str]:  # fmt: skip
        """``run <config> --quiet -o ...`` of ``corpus`` into ``output/name``."""
        options = [
            f"name={name}",
            f"output_dir={output or self.root / 'runs'}",
            f"cache_dir={cache or self.cache}",
            f"data.corpora=[{{name: csv, root: {corpus}}}]",
            *RUN_OPTIONS,
            *overrides,
        ]
        return ["run", str(self.config), "--quiet", *(a for o in options for a in ("-o", o))]

    def run(self, corpus: Path, name: str, *overrides: str, flags: tuple[str, ...] = (),
            **where: Path) -> Invocation:  # fmt: skip
        return invoke([*self.run_args(corpus, name, *overrides, **where), *flags])

    @cached_property
    def baseline(self) -> dict[str, Any]:
        """metrics.json of the clean corpus' run (also fills the shared cache)."""
        call = self.run(self.clean, "baseline")
        if call.code != 0:
            raise RuntimeError(f"the clean baseline run failed:\n{call.err}{call.traceback}")
        return metrics(self.baseline_folder)

    @property
    def baseline_folder(self) -> Path:
        return self.root / "runs" / "baseline"

    def baseline_copy(self, case_id: str) -> Path:
        """A copy of the finished baseline run folder to edit."""
        _ = self.baseline
        return Path(shutil.copytree(self.baseline_folder, self.folder(case_id) / "run"))

    def uar(self, folder: Path) -> float:
        return metrics(folder)["summary"]["uar"]["value"]

    @cached_property
    def clips(self) -> list[Path]:
        """Clean clips to predict: every clip of two speakers."""
        return sorted(self.clean.glob("audio/s0[12]_*.wav"))

    @cached_property
    def reference_predictions(self) -> str:
        """``predict`` output of the untouched baseline run on :attr:`clips`."""
        _ = self.baseline
        call = invoke(["predict", self.baseline_folder, *self.clips])
        if call.code != 0:
            raise RuntimeError(f"predict on the baseline run failed:\n{call.err}{call.traceback}")
        return call.out

    @cached_property
    def tiny_whisper(self) -> Path:
        """A tiny random Whisper saved like a user's model folder (as tests/conftest.py)."""
        from tests.tiny_models import save_tiny_whisper

        return save_tiny_whisper(self.root / "tiny_whisper")

    def finetune_args(self) -> list[str]:
        """``run`` of the fine-tuning run (its folder: ``runs/finetune``)."""
        return self.run_args(
            self.clean, "finetune", "features.upstream=hf",
            f"features.params={{model: {self.tiny_whisper}}}",
            "finetune={strategy: frozen, epochs: 1, batch_size: 8, validation_folds: 0}",
            "split.only_folds=[speaker=s01]",
        )  # fmt: skip

    @cached_property
    def finetune_folder(self) -> Path:
        """A finished fine-tuning run folder: tiny Whisper, frozen strategy, 1 epoch, 1 fold."""
        call = invoke(self.finetune_args())
        if call.code != 0:
            raise RuntimeError(f"the fine-tuning run failed:\n{call.err}{call.traceback}")
        return run_folder(call)

    def finetune_copy(self, case_id: str) -> Path:
        return Path(shutil.copytree(self.finetune_folder, self.folder(case_id) / "run"))
