"""Fuzzing the two text readers people feed by hand: the manifest csv and ``-o`` overrides.

A csv reader may only answer a DataFrame, or ValueError / FileNotFoundError naming the csv;
the override parser only an ExperimentConfig or a ConfigError. Anything else (a KeyError, an
IndexError, a pandas or yaml exception) would reach the user as a traceback.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emotransfer.config import ConfigError, ExperimentConfig, load_config
from emotransfer.data.corpora.csv import CsvCorpus, read_metadata

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
FOLDER = Path(tempfile.mkdtemp(prefix="emotransfer-fuzz-"))  # one folder for every example

COLUMN_NAMES = st.sampled_from(["speaker", "gender", "start", "end", "split", "corpus",
                                "domain", "speaker_id", "valence", "", " file", "émotion",
                                "file", "emotion"])  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)  # fmt: skip
CELLS = st.one_of(
    st.sampled_from(["", " ", "anger", "sadness", "Angry", "grumpy", "q1", "audio/a.wav",
                     "../x.wav", "/abs/b.flac", "0.5", "-1", "1e309", "nan", "NA", "None", '"',
                     '""', "a,b", "x\ny", "s01", "S01 ", "music", "speech", "train",
                     "\ufeff"]),
    TEXT,
)  # fmt: skip
REQUIRED = st.sampled_from([["file", "emotion"], ["file", "emotion"], ["emotion", "file"],
                            ["file"], ["emotion"], []])  # fmt: skip


def _quote(cell: str, style: str) -> str:
    """``plain``: as is (a comma or quote in it breaks the row); ``minimal``: quoted where csv
    needs it; ``quoted``: always quoted."""
    if style == "quoted" or (style == "minimal" and any(c in cell for c in ',"\r\n')):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """A csv-like text: mostly the required columns among random ones and rows as wide as the
    header (so that many texts are valid tables), with random cells, quoting and line ends,
    sometimes one quote left open."""
    names = [*draw(REQUIRED), *draw(st.lists(COLUMN_NAMES, max_size=4))]
    if draw(st.integers(0, 3)):  # mostly distinct names
        names = list(dict.fromkeys(names))
    header = draw(st.permutations(names))
    width = len(header)
    exact = st.lists(CELLS, min_size=width, max_size=width)
    row = st.one_of(exact, exact, exact, st.lists(CELLS, max_size=width + 2))
    table = [header, *draw(st.lists(row, max_size=6))]
    style = draw(st.sampled_from(["minimal", "minimal", "minimal", "quoted", "plain"]))
    cells = [[_quote(cell, style) for cell in cells] for cells in table]
    if draw(st.integers(0, 7)) == 0 and any(cells):
        line = draw(st.sampled_from([i for i, c in enumerate(cells) if c]))
        cells[line][0] = '"' + cells[line][0]
    end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    return end.join(",".join(line) for line in cells) + draw(st.sampled_from(["", end]))


ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"])


def _write(text: str, encoding: str) -> Path:
    path = FOLDER / "metadata.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    return path


def _names_the_csv(error: Exception, path: Path) -> bool:
    return str(path) in str(error) or path.name in str(error)


@FUZZ
@given(text=csv_texts(), encoding=ENCODINGS)
def test_read_metadata_answers_a_table_or_an_error_naming_the_csv(text, encoding):
    path = _write(text, encoding)
    try:
        table = read_metadata(path)
    except (ValueError, FileNotFoundError) as error:
        assert _names_the_csv(error, path), f"{type(error).__name__}: {error}"
    else:
        assert isinstance(table, pd.DataFrame)
        assert {"file", "emotion"} <= set(table.columns)


@FUZZ
@given(text=csv_texts())
def test_csv_corpus_load_answers_a_manifest_or_an_error_naming_the_csv(text):
    path = _write(text, "utf-8")
    try:
        table = CsvCorpus(root=FOLDER).load()
    except (ValueError, FileNotFoundError) as error:
        assert _names_the_csv(error, path), f"{type(error).__name__}: {error}"
    else:
        assert isinstance(table, pd.DataFrame)


KEYS = st.sampled_from(["name", "seed", "split.kind", "split.folds", "features.layer",
                        "features.upstream", "head.grid", "head.grid.C", "data.audio.min_duration",
                        "data.audio.max_duration", "data.corpora", "data.corpora.0.root",
                        "data.labels.other", "data.labels.classes", "plugins", "evaluation",
                        "evaluation.bootstrap.x", "finetune", "finetune.epochs", "", ".", "a..b",
                        "head.0", "unknown", "features.params.model"])  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["", "1", "-1", "99999999999", "1e400", "nan", ".inf", "null", "[]", "{}",
                     "[1, 2", "{a: 1}", "[{name: csv, root: /x}]", "'quoted'", "!!python/name:os",
                     "*alias", "&anchor x", "a: b: c", "- x", "../../x", "some.module:Class",
                     "\x00", "\t", "true", "loso", "=", "a=b"]),
    st.text(max_size=16),
)  # fmt: skip


@FUZZ
@given(key=st.one_of(KEYS, st.text(max_size=12)), value=VALUES, sep=st.sampled_from(["=", ""]))
def test_an_override_gives_a_config_or_a_config_error(key, value, sep):
    try:
        config = load_config(None, overrides=[f"{key}{sep}{value}"])
    except ConfigError:
        return
    assert isinstance(config, ExperimentConfig)


@FUZZ
@given(overrides=st.lists(st.builds("{}={}".format, KEYS, VALUES), min_size=2, max_size=4))
def test_several_overrides_give_a_config_or_a_config_error(overrides):
    try:
        config = load_config(None, overrides=overrides)
    except ConfigError:
        return
    assert isinstance(config, ExperimentConfig)
