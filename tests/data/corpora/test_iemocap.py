import pytest

from emotransfer.data.corpora.iemocap import FOUR_CLASS_SPEC, IEMOCAP
from emotransfer.data.labels import apply_labels
from emotransfer.data.load import load_corpora

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
IMPRO = (
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    "C-E1:\tNeutral;\t()\n"
    "[10.0100 - 11.3925]\tSes01F_impro01_M001\texc\t[4.0000, 3.5000, 3.0000]\n"
)
SCRIPT = "[1.0 - 2.0]\tSes02M_script01_1_F003\tang\t[1.5000, 4.5000, 4.0000]\n"
WAVS = [
    "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav",
    "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav",
    "Session2/sentences/wav/Ses02M_script01_1/Ses02M_script01_1_F003.wav",
]


def write_evaluation(root, session, dialog, text):
    folder = root / f"Session{session}" / "dialog" / "EmoEvaluation"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{dialog}.txt").write_text(HEADER + text)


@pytest.fixture
def corpus_root(make_wavs, tmp_path):
    make_wavs(*WAVS)
    write_evaluation(tmp_path, 1, "Ses01F_impro01", IMPRO)
    write_evaluation(tmp_path, 2, "Ses02M_script01_1", SCRIPT)
    return tmp_path


def test_load(corpus_root, files_exist):
    table = IEMOCAP(root=corpus_root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["Ses01F", "Ses01M", "Ses02F"]
    assert table["gender"].tolist() == ["f", "m", "f"]
    assert table["session"].tolist() == [1, 1, 2]
    assert table["method"].tolist() == ["impro", "impro", "script"]
    assert table["emotion"].tolist() == ["neutral", "excitement", "anger"]
    assert table["valence"].tolist() == [2.5, 4.0, 1.5]
    assert table["arousal"].tolist() == [2.5, 3.5, 4.5]
    assert table["dominance"].tolist() == [2.5, 3.0, 4.0]
    assert table["dialog"].tolist() == ["Ses01F_impro01", "Ses01F_impro01", "Ses02M_script01_1"]
    assert set(table["language"]) == {"en"}
    assert files_exist(table)


def test_four_class_spec_merges_excitement(corpus_root):
    table = apply_labels(IEMOCAP(root=corpus_root).load(), FOUR_CLASS_SPEC)
    assert table["emotion"].tolist() == ["neutral", "happiness", "anger"]


def test_unknown_code_names_file(corpus_root):
    write_evaluation(corpus_root, 1, "Ses01F_impro01", IMPRO.replace("neu", "zzz"))
    with pytest.raises(ValueError, match="Ses01F_impro01.txt"):
        IEMOCAP(root=corpus_root).load()


def test_bad_utterance_id_names_file(corpus_root):
    write_evaluation(corpus_root, 1, "Ses01F_impro01", IMPRO.replace("_F000", "_X000"))
    with pytest.raises(ValueError, match="Ses01F_impro01.txt"):
        IEMOCAP(root=corpus_root).load()


def test_missing_wav(corpus_root):
    (corpus_root / WAVS[0]).unlink()
    assert IEMOCAP(root=corpus_root).load()["file"].str.endswith("_F000.wav").any()
    with pytest.raises(FileNotFoundError, match="Ses01F_impro01_F000.wav"):
        load_corpora([{"name": "iemocap", "root": str(corpus_root)}])


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        IEMOCAP(root=tmp_path / "absent").load()
    with pytest.raises(FileNotFoundError, match="EmoEvaluation"):
        IEMOCAP(root=tmp_path).load()
