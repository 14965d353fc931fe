import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotransfer.data.labels import LabelSpec
from emotransfer.data.load import load_corpora, select_labels

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
        load_corpora([entry])
    table, skipped = load_corpora([entry], on_missing="skip")
    assert table["file"].tolist() == [f"{root}/here.wav"]
    assert skipped == [{"file": f"{root}/gone.wav", "problem": "file does not exist"}]


def test_empty_configuration_and_empty_corpus(tmp_path, plugin):
    with pytest.raises(ValueError, match="data.corpora is empty"):
        load_corpora([])
    with pytest.raises(
        ValueError, match=r"corpus 'emotransfer_test_listed_corpus:ListedCorpus' at .*: no rows"
    ):
        load_corpora([{"name": plugin, "root": str(tmp_path), "params": {"names": []}}])


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
