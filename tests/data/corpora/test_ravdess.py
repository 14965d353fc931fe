import pytest

from emotransfer.data.corpora.ravdess import RAVDESS


def test_load_keeps_audio_only_speech_and_song(make_wavs, files_exist):
    root = make_wavs(
        "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-02-01-01.wav",
        "Audio_Speech_Actors_01-24/Actor_02/03-01-08-02-01-02-02.wav",
        "Audio_Song_Actors_01-24/Actor_01/03-02-03-02-01-01-01.wav",
        "Video/Actor_01/01-01-05-01-02-01-01.wav",
    )
    table = RAVDESS(root=root).load()
    assert len(table) == 3
    row = table.set_index("file").loc[
        str(root / "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-02-01-01.wav")
    ]
    assert (row["speaker"], row["gender"], row["emotion"]) == ("01", "m", "anger")
    assert (row["intensity"], row["text_id"], row["repetition"]) == ("normal", "02", 1)
    assert sorted(table["vocal_channel"]) == ["song", "speech", "speech"]
    assert sorted(table["emotion"]) == ["anger", "happiness", "surprise"]
    assert table.loc[table["speaker"] == "02", "gender"].item() == "f"
    assert set(table["domain"]) == {"speech"} and set(table["language"]) == {"en"}
    assert "modality" not in table.columns
    assert files_exist(table)


def test_unknown_emotion_names_file(make_wavs):
    root = make_wavs("Actor_01/03-01-09-01-02-01-01.wav")
    with pytest.raises(ValueError, match="03-01-09-01-02-01-01.wav"):
        RAVDESS(root=root).load()


def test_malformed_name_names_file(make_wavs):
    root = make_wavs("Actor_01/03-01-05.wav")
    with pytest.raises(ValueError, match="03-01-05.wav"):
        RAVDESS(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        RAVDESS(root=tmp_path / "absent").load()
