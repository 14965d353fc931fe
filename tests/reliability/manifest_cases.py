"""Label and manifest cases: blank labels are listed skips; unknown labels, duplicates, classes
no fold can learn and unreadable metadata are errors naming the label, row or csv path;
speaker ids that differ only in case or spaces are one speaker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from tests.reliability.case import Attempt, Registry
from tests.reliability.corpus import add_clip, read_rows, tone, write_rows
from tests.reliability.harness import (
    Observation,
    Workspace,
    expect_error,
    expect_result,
    expect_skip,
    metrics,
    run_folder,
)

cases = Registry()
CLEAN_ROWS = 24
CSV = "corpus/metadata.csv"  # how the csv path of a case's corpus ends


def _edited(edit: Callable[[Path], object], *overrides: str) -> Attempt:
    """An attempt: the run of a corpus copy that ``edit(corpus)`` changed; an error is due."""

    def attempt(workspace: Workspace, case_id: str) -> Observation:
        corpus = workspace.corpus_copy(case_id)
        edit(corpus)
        return expect_error(workspace.run(corpus, case_id, *overrides))

    return attempt


def _table(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def edit(corpus: Path) -> None:
        write_rows(corpus, change(read_rows(corpus)))

    return edit


def _text(data: bytes) -> Callable[[Path], None]:
    def edit(corpus: Path) -> None:
        (corpus / "metadata.csv").write_bytes(data)

    return edit


@cases.add("label-blank", "a row with a blank emotion", "skip", "blank.wav", "blank emotion label")
def _blank(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    add_clip(corpus, "blank.wav", tone("anger", 0.6, seed=5), emotion="")
    return expect_skip(workspace.run(corpus, case_id), ["blank.wav"], CLEAN_ROWS)


cases.add("label-unknown", "a row labelled grumpy (no labels.classes)", "error", "grumpy")(
    _edited(lambda c: add_clip(c, "grumpy.wav", tone("anger", 0.6, seed=6), emotion="grumpy"))
)
cases.add("label-other-typo", "labels.other: neutrl", "error", "data.labels.other", "neutrl")(
    _edited(lambda c: None, "data.labels.other=neutrl")
)
cases.add("label-other-typo-classes", "labels.classes [anger, sadness], labels.other: neutrl",
          "error", "data.labels.other", "neutrl")(
    _edited(lambda c: None, "data.labels.classes=[anger, sadness]", "data.labels.other=neutrl")
)  # fmt: skip
cases.add("label-class-unknown", "labels.classes naming a class no row has", "error", "boredom")(
    _edited(lambda c: None, "data.labels.classes=[anger, boredom]")
)


def _one_speaker_class(corpus: Path) -> None:
    for clip in range(2):
        add_clip(corpus, f"neutral_{clip}.wav", tone("neutral", 0.7, seed=40 + clip),
                 emotion="neutral")  # fmt: skip


cases.add("label-one-speaker-class", "class neutral spoken by s01 only (LOSO)", "error",
          "neutral")(_edited(_one_speaker_class))  # fmt: skip


@cases.add("label-one-speaker-class-drop", "class neutral of s01 only, split.unlearnable=drop",
           "skip", "neutral_0.wav", "neutral_1.wav")  # fmt: skip
def _one_speaker_dropped(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    _one_speaker_class(corpus)
    call = workspace.run(corpus, case_id, "split.unlearnable=drop")
    return expect_skip(call, ["neutral_0.wav", "neutral_1.wav"], CLEAN_ROWS)


def _duplicated(table: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([table, table.iloc[[0]]], ignore_index=True)


cases.add("manifest-duplicate", "a manifest row listed twice", "error", "duplicate",
          "s01_anger_0.wav")(_edited(_table(_duplicated)))  # fmt: skip


@cases.add("manifest-duplicate-allowed", "a row listed twice, data.allow_duplicates: true", "ok")
def _duplicate_allowed(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    _table(_duplicated)(corpus)
    call = workspace.run(corpus, case_id, "data.allow_duplicates=true")
    return expect_result(call, None, CLEAN_ROWS + 1)


@cases.add("manifest-speaker-spelling", "speaker s01 also spelt 's01 ' and 'S01'", "ok")
def _speaker_spelling(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    table = read_rows(corpus)
    table.loc[1, "speaker"], table.loc[2, "speaker"] = "s01 ", "S01"
    write_rows(corpus, table)
    call = workspace.run(corpus, case_id)
    seen = expect_result(call, workspace.baseline["summary"], CLEAN_ROWS)
    if seen.kind != "ok":
        return seen
    found = metrics(run_folder(call))
    folds = [fold["held_out"] for fold in found["folds"]]
    if len(folds) != 4 or found["data"]["n_speakers"] != 4 or not found["audit"]["ok"]:
        return Observation("silent", f"folds {folds}, {found['data']['n_speakers']} speakers, "
                                     f"audit {found['audit']}")  # fmt: skip
    return seen


cases.add("manifest-empty", "a 0-byte metadata.csv", "error", CSV)(_edited(_text(b"")))
cases.add("manifest-binary", "metadata.csv of binary bytes", "error", CSV)(
    _edited(_text(bytes(range(256)) * 8))
)
cases.add("manifest-header-only-blank", "metadata.csv of blank lines", "error", CSV)(
    _edited(_text(b"\n\n  \n"))
)
cases.add("manifest-bad-quote", "metadata.csv with a quote never closed", "error", CSV, "line")(
    _edited(_text(b'file,speaker,emotion\n"audio/s01_anger_0.wav,s01,anger\n'))
)
cases.add("manifest-extra-cells", "a row with more cells than the header", "error", CSV, "line 3")(
    _edited(_text(b"file,speaker,emotion\naudio/s01_anger_0.wav,s01,anger\n"
                  b"audio/s01_anger_1.wav,s01,anger,extra\n"))
)  # fmt: skip
cases.add("manifest-no-emotion-column", "metadata.csv without an emotion column", "error",
          CSV, "emotion")(_edited(_table(lambda t: t.drop(columns="emotion"))))  # fmt: skip
cases.add("manifest-no-file-column", "metadata.csv without a file column", "error",
          CSV, "file")(_edited(_table(lambda t: t.drop(columns="file"))))  # fmt: skip
cases.add("manifest-blank-file-cell", "a row whose file cell is blank", "error", CSV, "no file")(
    _edited(_table(lambda t: t.assign(file=[""] + t["file"].tolist()[1:])))
)


@cases.add("manifest-missing-root", "a corpus root that does not exist", "error", "no_such_corpus")
def _missing_root(workspace: Workspace, case_id: str) -> Observation:
    root = workspace.folder(case_id) / "no_such_corpus"
    return expect_error(workspace.run(root, case_id))


@cases.add("manifest-missing-metadata", "a corpus folder without metadata.csv", "error", CSV)
def _missing_metadata(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    (corpus / "metadata.csv").unlink()
    return expect_error(workspace.run(corpus, case_id))


@cases.add("manifest-speaker-near-duplicate", "speaker s01 also written s1 (probably one "
           "person): reported", "ok", "s1", "s01")  # fmt: skip
def _speaker_near_duplicate(workspace: Workspace, case_id: str) -> Observation:
    corpus = workspace.corpus_copy(case_id)
    table = read_rows(corpus)
    table.loc[table["file"].str.contains("s01_anger"), "speaker"] = "s1"
    write_rows(corpus, table)
    call = workspace.run(corpus, case_id)
    seen = expect_result(call, None, CLEAN_ROWS)
    if seen.kind != "ok":
        return seen
    groups = metrics(run_folder(call))["labels"].get("speaker_near_duplicates", [])
    if not any({"s01", "s1"} <= {g.rsplit("/", 1)[-1] for g in group} for group in groups):
        return Observation("silent", f"s01 and s1 not reported as near-duplicates: {groups}")
    return Observation("ok", f"near-duplicates reported: {groups}\n{seen.text}")
