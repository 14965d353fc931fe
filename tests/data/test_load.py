import logging

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotransfer.config import ConfigError, load_config
from emotransfer.data.labels import LabelSpec
from emotransfer.data.load import load_corpora, select_labels, speaker_near_duplicates
from emotransfer.data.splits import audit_folds, make_folds
from emotransfer.prepare import prepare_manifest

COLUMNS = "file,corpus,language,speaker,gender,emotion,duration_s"
ROWS = [
    "audio/03a01Wa.wav,emodb,de,03,m,anger,0.2",
    "audio/03a02Ta.wav,emodb,de,03,m,sadness,0.2",
    "audio/08a01Fa.wav,emodb,de,08,f,happiness,0.2",
    "audio/08a02Nc.wav,emodb,de,08,f,neutral,0.2",
]


def write_corpus(root, rows=ROWS, absent=()):
    """A tiny metadata.csv corpus; files named in ``absent`` are listed but not written."""
    (root / "audio").mkdir(parents=True)
    (root / "metadata.csv").write_text("\n".join([COLUMNS, *rows]) + "\n")
    for row in rows:
        name = row.split(",")[0]
        if name not in absent:
            sf.write(root / name, 0.1 * np.sin(np.arange(3200) / 3.0), 16000)
    return root


PLUGIN = '''
import pandas as pd
from emotransfer.data.manifest import normalize_manifest


class ListedCorpus:
    """Lists its files without checking them, as an out-of-tree adapter may."""

    def __init__(self, *, root, names=()):
        self.root = root
        self.names = names

    def load(self):
        rows = [{"file": f"{self.root}/{n}", "speaker": "s1", "emotion": "anger"}
                for n in self.names]
        return normalize_manifest(pd.DataFrame(rows, columns=["file", "speaker", "emotion"]),
                                  corpus="listed")
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "emotransfer_test_listed_corpus.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    return "emotransfer_test_listed_corpus:ListedCorpus"


def test_load_csv_corpus_through_registry(tmp_path):
    root = write_corpus(tmp_path / "emodb")
    table, skipped = load_corpora([{"name": "csv", "root": str(root)}])
    assert skipped == []
    assert len(table) == 4
    assert table["file"].tolist() == [str(root / row.split(",")[0]) for row in ROWS]
    assert table["speaker"].tolist() == ["03", "03", "08", "08"]
    assert set(table["corpus"]) == {"emodb"}


def test_two_corpora_are_concatenated(tmp_path):
    first = write_corpus(tmp_path / "one")
    second = write_corpus(tmp_path / "two", rows=ROWS[:2])
    corpora = [{"name": "csv", "root": str(first)}, {"name": "csv", "root": str(second)}]
    table, _ = load_corpora(corpora)
    assert len(table) == 6 and table.index.tolist() == list(range(6))


def test_speaker_selection_per_corpus(tmp_path):
    root = str(write_corpus(tmp_path / "emodb"))
    kept, _ = load_corpora([{"name": "csv", "root": root, "speakers": ["08"]}])
    assert kept["speaker"].tolist() == ["08", "08"]
    dropped, _ = load_corpora([{"name": "csv", "root": root, "exclude_speakers": ["08"]}])
    assert dropped["speaker"].tolist() == ["03", "03"]
    with pytest.raises(ValueError, match=r"speakers \['99'\] not in the corpus"):
        load_corpora([{"name": "csv", "root": root, "speakers": ["99"]}])
    with pytest.raises(ValueError, match="no rows"):
        load_corpora([{"name": "csv", "root": root, "exclude_speakers": ["03", "08"]}])


def test_missing_files_are_listed(tmp_path):
    root = write_corpus(tmp_path / "emodb", absent=("audio/03a02Ta.wav", "audio/08a02Nc.wav"))
    with pytest.raises(FileNotFoundError, match=r"2 manifest file\(s\)") as caught:
        load_corpora([{"name": "csv", "root": str(root)}])
    assert "03a02Ta.wav" in str(caught.value) and "08a02Nc.wav" in str(caught.value)
    table, skipped = load_corpora([{"name": "csv", "root": str(root)}], on_missing="skip")
    assert len(table) == 2 and {s["file"].rsplit("/", 1)[1] for s in skipped} == {
        "03a02Ta.wav",
        "08a02Nc.wav",
    }


def test_missing_files_raise_or_are_skipped(tmp_path, plugin):
    root = tmp_path / "listed"
    root.mkdir()
    sf.write(root / "here.wav", np.full(1600, 0.1), 16000)
    entry = {"name": plugin, "root": str(root), "params": {"names": ["here.wav", "gone.wav"]}}
    with pytest.raises(FileNotFoundError, match=r"1 manifest file\(s\).*\n.*gone.wav"):
        load_corpora([entry], plugins=[plugin])
    table, skipped = load_corpora([entry], on_missing="skip", plugins=[plugin])
    assert table["file"].tolist() == [f"{root}/here.wav"]
    assert skipped == [{"file": f"{root}/gone.wav", "problem": "file does not exist"}]


def test_empty_configuration_and_empty_corpus(tmp_path, plugin):
    with pytest.raises(ValueError, match="data.corpora is empty"):
        load_corpora([])
    with pytest.raises(
        ValueError, match=r"corpus 'emotransfer_test_listed_corpus:ListedCorpus' at .*: no rows"
    ):
        load_corpora(
            [{"name": plugin, "root": str(tmp_path), "params": {"names": []}}], plugins=[plugin]
        )


def test_unknown_corpus_name_lists_known(tmp_path):
    with pytest.raises(KeyError, match="unknown corpus 'emodbb'; known: .*emodb"):
        load_corpora([{"name": "emodbb", "root": str(tmp_path)}])


def manifest(*emotions):
    return pd.DataFrame({"file": [f"/{i}.wav" for i in range(len(emotions))], "emotion": emotions})


def test_select_labels_merges_and_summarises():
    spec = LabelSpec(classes=["anger", "happiness"], merge={"excitement": "happiness"})
    selected, summary = select_labels(manifest("anger", "excitement", "fear", "happy"), spec)
    assert selected["emotion"].tolist() == ["anger", "happiness", "happiness"]
    assert summary["classes"] == {"anger": 1, "happiness": 2}
    assert summary["spec"] == {"classes": spec.classes, "merge": spec.merge, "other": "drop"}


def test_select_labels_requested_class_without_rows():
    spec = LabelSpec(classes=["anger", "surprise"])
    with pytest.raises(ValueError, match=r"\['surprise'\] have no rows.*'anger'"):
        select_labels(manifest("anger", "sadness"), spec)


def test_select_labels_needs_two_classes():
    with pytest.raises(ValueError, match="at least 2 classes"):
        select_labels(manifest("anger", "Angry"), LabelSpec())
    with pytest.raises(ValueError, match="at least 2 classes"):
        select_labels(manifest("anger", "sadness"), LabelSpec(classes=["anger"]))


def csv_config(*roots, overrides=()):
    corpora = ", ".join(f"{{name: csv, root: {root}}}" for root in roots)
    return load_config(None, overrides=[f"data.corpora=[{corpora}]", *overrides])


def test_blank_emotion_rows_are_listed_as_skipped(tmp_path):
    rows = [*ROWS, "audio/03b01.wav,emodb,de,03,m,,0.2", "audio/08b01.wav,emodb,de,08,f,  ,0.2"]
    root = write_corpus(tmp_path / "emodb", rows=rows)
    table, info, skipped = prepare_manifest(csv_config(root))
    assert len(table) == 4 and info["rows_before"] == 4
    assert skipped == [
        {"file": str(root / "audio/03b01.wav"), "problem": "blank emotion label (corpus emodb)"},
        {"file": str(root / "audio/08b01.wav"), "problem": "blank emotion label (corpus emodb)"},
    ]


def test_blank_emotion_from_an_adapter_nan_is_skipped(tmp_path, plugin, monkeypatch):
    root = tmp_path / "listed"
    root.mkdir()
    for name in ("a.wav", "b.wav"):
        sf.write(root / name, np.full(1600, 0.1), 16000)
    module = __import__(plugin.split(":")[0])
    original = module.ListedCorpus.load
    monkeypatch.setattr(module.ListedCorpus, "load",
                        lambda self: original(self).assign(emotion=["anger", np.nan]))  # fmt: skip
    entry = {"name": plugin, "root": str(root), "params": {"names": ["a.wav", "b.wav"]}}
    table, skipped = load_corpora([entry], plugins=[plugin])
    assert table["file"].tolist() == [f"{root}/a.wav"]
    assert skipped == [{"file": f"{root}/b.wav", "problem": "blank emotion label (corpus listed)"}]


def test_every_emotion_blank_is_an_error(tmp_path):
    root = write_corpus(tmp_path / "emodb", rows=["audio/a.wav,emodb,de,03,m,,0.2"])
    with pytest.raises(ValueError, match=r"every row has a blank emotion label \(e.g. .*a.wav"):
        load_corpora([{"name": "csv", "root": str(root)}])


def test_unknown_labels_are_refused_with_counts_and_an_example():
    table = manifest("anger", "grumpy", "sadness", "grumpy", "neutrl")
    with pytest.raises(ValueError) as caught:
        select_labels(table, LabelSpec())
    message = str(caught.value)
    assert "2 label(s) outside the harmonised vocabulary" in message
    assert "'grumpy' (2 rows, e.g. /1.wav)" in message
    assert "'neutrl' (1 row, e.g. /4.wav; did you mean 'neutral'?)" in message
    for option in ("data.labels.merge", "data.labels.classes", "data.labels.other=keep"):
        assert option in message


def test_labels_outside_classes_follow_other():
    table = manifest("anger", "grumpy", "sadness", "grumpy", "fear")
    spec = LabelSpec(classes=["anger", "sadness"])
    selected, summary = select_labels(table, spec)
    assert selected["emotion"].tolist() == ["anger", "sadness"]
    assert summary["dropped_labels"] == {"fear": 1, "grumpy": 2}
    spec = LabelSpec(classes=["anger", "sadness", "grumpy"], other="sadness")
    selected, summary = select_labels(table, spec)
    assert selected["emotion"].tolist() == ["anger", "grumpy", "sadness", "grumpy", "sadness"]
    assert summary["merged_into_other"] == {"fear": 1} and summary["dropped_labels"] == {}


def test_other_keep_keeps_unknown_labels_as_classes():
    selected, summary = select_labels(manifest("anger", "annoyed", "Annoyed"), LabelSpec(
        other="keep"))  # fmt: skip
    assert selected["emotion"].tolist() == ["anger", "annoyed", "annoyed"]
    assert summary["classes"] == {"anger": 1, "annoyed": 2}


def test_merge_keys_are_harmonised_before_the_vocabulary_check():
    spec = LabelSpec(merge={"excited": "happiness", "grumpy": "anger"})
    selected, _ = select_labels(manifest("exc", "grumpy", "happy"), spec)
    assert selected["emotion"].tolist() == ["happiness", "anger", "happiness"]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("{other: neutrl}", r"data\.labels\.other: .*'neutrl' is not 'drop', 'keep' or a class "
         r"\(did you mean 'neutral'\?\)"),
        ("{classes: [anger, sadness], other: keep}", r"data\.labels\.other: .*contradicts"),
    ],
)  # fmt: skip
def test_bad_labels_other_names_the_key(labels, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(None, overrides=[f"data.labels={labels}"])
    assert load_config(None, overrides=["data.labels.other=keep"]).data.labels.other == "keep"
    with pytest.raises(ValueError, match=r"data\.labels\.other: 'neutrl'"):
        select_labels(manifest("anger", "sadness"), LabelSpec(other="neutrl"))


def test_duplicate_rows_are_refused_unless_allowed(tmp_path):
    root = write_corpus(tmp_path / "emodb", rows=[*ROWS, ROWS[1].replace("sadness", "anger")])
    with pytest.raises(ValueError) as caught:
        load_corpora([{"name": "csv", "root": str(root)}])
    message = str(caught.value)
    assert "1 segment(s) appear more than once in the manifest" in message
    assert f"{root / 'audio/03a02Ta.wav'} (2 rows, corpus emodb)" in message
    assert "data.allow_duplicates=true" in message
    table, _ = load_corpora([{"name": "csv", "root": str(root)}], allow_duplicates=True)
    assert len(table) == 5
    config = csv_config(root, overrides=["data.allow_duplicates=true"])
    assert len(prepare_manifest(config)[0]) == 5


def test_same_corpus_twice_is_a_duplicate(tmp_path):
    root = write_corpus(tmp_path / "emodb")
    with pytest.raises(ValueError, match=r"4 segment\(s\) appear more than once"):
        load_corpora([{"name": "csv", "root": str(root)}] * 2)


def test_speaker_ids_equal_ignoring_case_and_spaces_are_one_speaker(tmp_path):
    rows = [
        "audio/a.wav,emodb,de,s01,m,anger,0.2",
        "audio/b.wav,emodb,de,s01 ,m,sadness,0.2",
        "audio/c.wav,emodb,de,S01,m,anger,0.2",
        "audio/d.wav,emodb,de,s01,m,sadness,0.2",
        "audio/e.wav,emodb,de,Bb,f,anger,0.2",
        "audio/f.wav,emodb,de,bB,f,sadness,0.2",
    ]
    root = write_corpus(tmp_path / "emodb", rows=rows)
    table, _ = load_corpora([{"name": "csv", "root": str(root)}])
    # most frequent spelling wins; a tie goes to the smallest in sort order
    assert table["speaker"].tolist() == ["s01"] * 4 + ["Bb"] * 2
    folds = make_folds(table, kind="loso")
    assert [fold.name for fold in folds] == ["speaker=Bb", "speaker=s01"]
    assert audit_folds(table, folds)["ok"] is True


def test_speaker_lists_match_after_normalisation(tmp_path):
    root = str(write_corpus(tmp_path / "emodb", rows=[*ROWS, "audio/x.wav,emodb,de,AB,m,anger,1"]))
    kept, _ = load_corpora([{"name": "csv", "root": root, "speakers": [" ab", "08"]}])
    assert kept["speaker"].tolist() == ["08", "08", "AB"]
    dropped, _ = load_corpora([{"name": "csv", "root": root, "exclude_speakers": ["Ab "]}])
    assert sorted(set(dropped["speaker"])) == ["03", "08"]
    with pytest.raises(ValueError, match=r"speakers \['A-B'\] not in the corpus"):
        load_corpora([{"name": "csv", "root": root, "speakers": ["A-B"]}])


def test_near_duplicate_speakers_are_reported_not_merged(tmp_path, caplog):
    rows = [
        "audio/a.wav,emodb,de,s1,m,anger,0.2",
        "audio/b.wav,emodb,de,s01,m,sadness,0.2",
        "audio/c.wav,emodb,de,spk-2,f,anger,0.2",
        "audio/d.wav,emodb,de,spk_2,f,sadness,0.2",
        "audio/e.wav,emodb,de,s10,f,anger,0.2",
    ]
    root = write_corpus(tmp_path / "emodb", rows=rows)
    with caplog.at_level(logging.WARNING, logger="emotransfer"):
        table, info, _ = prepare_manifest(csv_config(root))
    assert table["speaker"].tolist() == ["s1", "s01", "spk-2", "spk_2", "s10"]
    assert info["speaker_near_duplicates"] == [["s01", "s1"], ["spk-2", "spk_2"]]
    assert "['s01', 's1'] look like one person" in caplog.text
    assert speaker_near_duplicates(table.assign(corpus=["x", "y", "x", "x", "x"])) == [
        ["x/spk-2", "x/spk_2"]
    ]


VOCALISED = [
    "audio/a1.wav,nv,en,s1,f,,laughing",
    "audio/a2.wav,nv,en,s1,f,,Sighing ",
    "audio/b1.wav,nv,en,s2,m,happy,laughing",
    "audio/b2.wav,nv,en,s2,m,,",
]


def vocalised(root):
    """Rows with a blank emotion and a ``vocalization`` column (as the nonverbal corpus)."""
    (root / "audio").mkdir(parents=True)
    header = "file,corpus,language,speaker,gender,emotion,vocalization"
    (root / "metadata.csv").write_text("\n".join([header, *VOCALISED]) + "\n")
    for row in VOCALISED:
        sf.write(root / row.split(",")[0], 0.1 * np.sin(np.arange(3200) / 3.0), 16000)
    return root


def test_any_manifest_column_can_be_the_target(tmp_path):
    root = vocalised(tmp_path / "nv")
    entry = [{"name": "csv", "root": str(root)}]
    table, skipped = load_corpora(entry, column="vocalization")
    assert table["emotion"].str.strip().tolist() == ["laughing", "Sighing", "laughing"]
    assert table["emotion_original"].fillna("").tolist() == ["", "", "happiness"]
    assert skipped == [{"file": f"{root}/audio/b2.wav",
                        "problem": "blank vocalization label (corpus nv)"}]  # fmt: skip
    # labels of another target are taken as they are: no emotion vocabulary, no synonyms
    selected, summary = select_labels(table, LabelSpec(harmonised=False))
    assert summary["classes"] == {"Sighing": 1, "laughing": 2}
    with pytest.raises(ValueError, match="outside the harmonised vocabulary"):
        select_labels(table, LabelSpec())
    with pytest.raises(ValueError, match=r"no 'voice' column \(data.labels.column\); columns: "):
        load_corpora(entry, column="voice")


def test_the_labels_column_setting_reaches_the_manifest(tmp_path):
    root = vocalised(tmp_path / "nv")
    config = load_config(None, overrides=[f"data.corpora=[{{name: csv, root: {root}}}]",
                                          "data.labels.column=vocalization"])  # fmt: skip
    table, info, skipped = prepare_manifest(config)
    assert sorted(info["classes"]) == ["Sighing", "laughing"] and len(skipped) == 1
    with pytest.raises(ConfigError, match="column"):
        load_config(None, overrides=["data.labels.column='a;b'"])
