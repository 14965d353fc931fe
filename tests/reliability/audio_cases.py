"""Audio cases: every broken file is a listed skip with ``on_error=skip`` and, by default, one
error lists every bad file (missing ones included); other formats, channels and rates load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
from tests.reliability.case import Attempt, Registry
from tests.reliability.corpus import BAD_AUDIO, RATE, add_bad_audio, read_rows, tone, write_rows
from tests.reliability.harness import (
    Observation,
    Workspace,
    expect_error,
    expect_result,
    expect_skip,
)

cases = Registry()
CLEAN_ROWS = 24
PROBLEMS = {"missing": "file does not exist", **{k: v[2] for k, v in BAD_AUDIO.items()}}


def _skipped(kind: str) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        corpus = workspace.corpus_copy(case_id)
        name = add_bad_audio(corpus, kind)
        call = workspace.run(corpus, case_id, "data.audio.on_error=skip")
        return expect_skip(call, [name], CLEAN_ROWS)

    return attempt


def _raised(kinds: list[str]) -> Attempt:
    def attempt(workspace: Workspace, case_id: str) -> Observation:
        corpus = workspace.corpus_copy(case_id)
        for kind in kinds:
            add_bad_audio(corpus, kind)
        return expect_error(workspace.run(corpus, case_id))

    return attempt


for kind, problem in PROBLEMS.items():
    name = BAD_AUDIO[kind][0] if kind in BAD_AUDIO else "missing.wav"
    cases.add(f"audio-{kind}-skip", f"{kind} audio file, on_error=skip", "skip",
              name, problem)(_skipped(kind))  # fmt: skip
    cases.add(f"audio-{kind}-raise", f"{kind} audio file, on_error=raise", "error",
              "1 bad audio file(s)", name, problem)(_raised([kind]))  # fmt: skip

EVERY = list(PROBLEMS)
cases.add("audio-every-bad-raise", "one file of each bad kind, missing included, on_error=raise",
          "error", f"{len(EVERY)} bad audio file(s)", "missing.wav",
          *(v[0] for v in BAD_AUDIO.values()))(_raised(EVERY))  # fmt: skip


@cases.add("audio-every-bad-skip", "one file of each bad kind, on_error=skip", "skip",
           *PROBLEMS.values())  # fmt: skip
def _every_skipped(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    names = [add_bad_audio(corpus, kind) for kind in EVERY]
    call = workspace.run(corpus, case_id, "data.audio.on_error=skip")
    return expect_skip(call, names, CLEAN_ROWS)


def _replaced(suffix: str, *, same_result: bool, channels: int = 1, rate: int = RATE,
              **options: str) -> Attempt:  # fmt: skip
    """The first clip rewritten as ``suffix`` with ``channels`` at ``rate``: still used."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        corpus = workspace.corpus_copy(case_id)
        table = read_rows(corpus)
        old = corpus / table.loc[0, "file"]
        wave, _ = soundfile.read(old, dtype="float32")
        if rate != RATE:
            wave = tone(table.loc[0, "emotion"], len(wave) / RATE, seed=0, rate=rate)
        if channels > 1:
            wave = np.stack([wave] * channels, axis=1)
        old.unlink()
        new = Path(table.loc[0, "file"]).with_suffix(suffix)
        soundfile.write(corpus / new, wave, rate, **options)
        table.loc[0, "file"] = str(new)
        write_rows(corpus, table)
        due = workspace.baseline["summary"] if same_result else None
        return expect_result(workspace.run(corpus, case_id), due, CLEAN_ROWS)

    return attempt


cases.add("audio-flac", "a clip stored as FLAC", "ok")(_replaced(".flac", same_result=True))
cases.add("audio-ogg", "a clip stored as Ogg Vorbis", "ok")(_replaced(".ogg", same_result=False))
cases.add("audio-wav-float", "a clip stored as 32-bit float wav", "ok")(
    _replaced(".wav", same_result=True, subtype="FLOAT")
)
cases.add("audio-stereo", "a stereo clip (two equal channels)", "ok")(
    _replaced(".wav", same_result=True, channels=2)
)
cases.add("audio-8khz", "a clip recorded at 8 kHz (resampled)", "ok")(
    _replaced(".wav", same_result=False, rate=8000)
)
