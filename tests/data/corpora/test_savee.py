import pytest

from emotransfer.data.corpora.savee import SAVEE


def test_official_layout(make_wavs, files_exist):
    root = make_wavs("AudioData/DC/a01.wav", "AudioData/JK/sa03.wav", "AudioData/KL/su15.wav")
    table = SAVEE(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["DC", "JK", "KL"]
    assert table["gender"].tolist() == ["m", "m", "m"]
    assert table["emotion"].tolist() == ["anger", "sadness", "surprise"]
    assert table["text_id"].tolist() == ["a01", "sa03", "su15"]
    assert set(table["language"]) == {"en"}
    assert files_exist(table)


def test_flat_kaggle_layout(make_wavs):
    table = SAVEE(root=make_wavs("DC_n01.wav", "JE_h02.wav")).load()
    assert table["speaker"].tolist() == ["DC", "JE"]
    assert table["emotion"].tolist() == ["neutral", "happiness"]
    assert table["text_id"].tolist() == ["n01", "h02"]


def test_unknown_code_names_file(make_wavs):
    root = make_wavs("DC_x01.wav")
    with pytest.raises(ValueError, match="DC_x01.wav"):
        SAVEE(root=root).load()


def test_no_speaker_names_file(make_wavs, tmp_path):
    root = make_wavs("audio/a01.wav")
    with pytest.raises(ValueError, match="a01.wav"):
        SAVEE(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        SAVEE(root=tmp_path / "absent").load()
