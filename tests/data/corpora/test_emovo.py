import pytest

from emotransfer.data.corpora.emovo import EMOVO


def test_load(make_wavs, files_exist):
    root = make_wavs("f1/dis-f1-b1.wav", "m3/rab-m3-l4.wav", "f2/sor-f2-n5.wav")
    table = EMOVO(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["f1", "f2", "m3"]
    assert table["gender"].tolist() == ["f", "f", "m"]
    assert table["emotion"].tolist() == ["disgust", "surprise", "anger"]
    assert table["text_id"].tolist() == ["b1", "n5", "l4"]
    assert set(table["language"]) == {"it"}
    assert files_exist(table)


@pytest.mark.parametrize("name", ["xyz-f1-b1.wav", "dis_f1_b1.wav"])
def test_bad_names_name_file(make_wavs, name):
    root = make_wavs(f"f1/{name}")
    with pytest.raises(ValueError, match=name):
        EMOVO(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        EMOVO(root=tmp_path / "absent").load()
