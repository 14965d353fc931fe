import pytest

from emotransfer.data.corpora.tess import TESS

TOP = "TESS Toronto emotional speech set data"


def test_load_recursive(make_wavs, files_exist):
    root = make_wavs(
        f"{TOP}/OAF_angry/OAF_back_angry.wav",
        f"{TOP}/YAF_pleasant_surprised/YAF_chair_ps.wav",
        f"{TOP}/YAF_neutral/YAF_bath_neutral.wav",
    )
    table = TESS(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["OAF", "YAF", "YAF"]
    assert table["gender"].tolist() == ["f", "f", "f"]
    assert table["emotion"].tolist() == ["anger", "neutral", "surprise"]
    assert table["text_id"].tolist() == ["back", "bath", "chair"]
    assert table["age_group"].tolist() == ["older", "younger", "younger"]
    assert files_exist(table)


def test_unknown_emotion_names_file(make_wavs):
    root = make_wavs("OAF_bored/OAF_back_bored.wav")
    with pytest.raises(ValueError, match="OAF_back_bored.wav"):
        TESS(root=root).load()


def test_unknown_speaker_names_file(make_wavs):
    root = make_wavs("XAF_angry/XAF_back_angry.wav")
    with pytest.raises(ValueError, match="XAF_back_angry.wav"):
        TESS(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        TESS(root=tmp_path / "absent").load()
