import pytest

from emotransfer.data.corpora.crema_d import CremaD

NAMES = [
    "AudioWAV/1001_DFA_ANG_XX.wav",
    "AudioWAV/1002_IEO_HAP_HI.wav",
    "AudioWAV/1003_TIE_NEU_LO.wav",
]


def test_load_with_demographics(make_wavs, files_exist):
    root = make_wavs(*NAMES)
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n"
    )
    table = CremaD(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["1001", "1002", "1003"]
    assert table["gender"].tolist() == ["m", "f", ""]
    assert table["emotion"].tolist() == ["anger", "happiness", "neutral"]
    assert table["text_id"].tolist() == ["DFA", "IEO", "TIE"]
    assert table["intensity"].tolist() == ["unspecified", "high", "low"]
    assert set(table["language"]) == {"en"}
    assert files_exist(table)


def test_load_without_demographics(make_wavs):
    table = CremaD(root=make_wavs(*NAMES)).load()
    assert table["gender"].tolist() == ["", "", ""]


@pytest.mark.parametrize("name", ["1001_DFA_XYZ_XX.wav", "1001_DFA_ANG_QQ.wav", "1001_DFA.wav"])
def test_bad_names_name_file(make_wavs, name):
    root = make_wavs(f"AudioWAV/{name}")
    with pytest.raises(ValueError, match=name):
        CremaD(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        CremaD(root=tmp_path / "absent").load()
