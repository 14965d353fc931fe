import pytest

from emotransfer.data.corpora.emodb import EmoDB


def test_load_reads_names(make_wavs, files_exist):
    root = make_wavs("wav/03a01Fa.wav", "wav/08b02Tc.wav", "wav/16a05Ld.wav")
    table = EmoDB(root=root).load()
    assert len(table) == 3
    assert table["speaker"].tolist() == ["03", "08", "16"]
    assert table["gender"].tolist() == ["m", "f", "f"]
    assert table["emotion"].tolist() == ["happiness", "sadness", "boredom"]
    assert table["text_id"].tolist() == ["a01", "b02", "a05"]
    assert table["version"].tolist() == ["a", "c", "d"]
    assert set(table["language"]) == {"de"} and set(table["corpus"]) == {"emodb"}
    assert set(table["domain"]) == {"speech"}
    assert files_exist(table)


def test_constructor_only_stores(tmp_path):
    corpus = EmoDB(root=tmp_path / "nowhere")
    assert corpus.root == tmp_path / "nowhere"


def test_unknown_emotion_letter_names_file(make_wavs):
    root = make_wavs("wav/03a01Xa.wav")
    with pytest.raises(ValueError, match="03a01Xa.wav"):
        EmoDB(root=root).load()


def test_malformed_name_names_file(make_wavs):
    root = make_wavs("wav/speaker3.wav")
    with pytest.raises(ValueError, match="speaker3.wav"):
        EmoDB(root=root).load()


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        EmoDB(root=tmp_path / "missing").load()


def test_root_without_wavs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .wav"):
        EmoDB(root=tmp_path).load()
