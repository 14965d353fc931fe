import pytest

from emotransfer.data.corpora.urdu import URDU


def test_load(make_wavs, files_exist):
    root = make_wavs("Angry/SM1_F10_A010.wav", "Sad/SF10_F1_S01.wav", "Happy/SF1_F2_H02.wav")
    table = URDU(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["SM1", "SF1", "SF10"]
    assert table["gender"].tolist() == ["m", "f", "f"]
    assert table["emotion"].tolist() == ["anger", "happiness", "sadness"]
    assert set(table["language"]) == {"ur"}
    assert files_exist(table)


@pytest.mark.parametrize(
    "name", ["Angry/SM1_F10_H010.wav", "Angry/SM1_F10_Q010.wav", "Angry/SX1_F10_A010.wav"]
)
def test_bad_names_name_file(make_wavs, name):
    root = make_wavs(name)
    with pytest.raises(ValueError, match=name.split("/")[1]):
        URDU(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        URDU(root=tmp_path / "absent").load()
