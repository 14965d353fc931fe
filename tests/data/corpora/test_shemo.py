import pytest

from emotransfer.data.corpora.shemo import ShEMO


def test_load(make_wavs, files_exist):
    root = make_wavs("female/F01A01.wav", "male/M01N02.wav", "male/M12W10.wav")
    table = ShEMO(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["F01", "M01", "M12"]
    assert table["gender"].tolist() == ["f", "m", "m"]
    assert table["emotion"].tolist() == ["anger", "neutral", "surprise"]
    assert set(table["language"]) == {"fa"}
    assert files_exist(table)


@pytest.mark.parametrize("name", ["F01Z01.wav", "X01A01.wav", "F1A01.wav"])
def test_bad_names_name_file(make_wavs, name):
    root = make_wavs(f"female/{name}")
    with pytest.raises(ValueError, match=name):
        ShEMO(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        ShEMO(root=tmp_path / "absent").load()
