import math

import pytest

from emotransfer.data.corpora.msp_podcast import MSPPodcast
from emotransfer.data.load import load_corpora

LABELS = (
    "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
    "MSP-PODCAST_0001_0008.wav,A,5.8,2.2,5.4,127,Male,Train\n"
    "MSP-PODCAST_0001_0019.wav,N,4.0,4.2,,0001,Female,Development\n"
    "MSP-PODCAST_0002_0033.wav,X,3.0,3.4,3.6,Unknown,Unknown,Test1\n"
)


@pytest.fixture
def corpus_root(make_wavs, tmp_path):
    make_wavs("Audios/MSP-PODCAST_0001_0008.wav", "Audios/MSP-PODCAST_0001_0019.wav",
              "Audios/MSP-PODCAST_0002_0033.wav")  # fmt: skip
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(LABELS)
    return tmp_path


def test_load(corpus_root, files_exist):
    table = MSPPodcast(root=corpus_root).load()
    assert len(table) == 3
    assert table["emotion"].tolist() == ["anger", "neutral", "other"]
    assert table["speaker"].tolist() == ["127", "0001", ""]
    assert table["gender"].tolist() == ["m", "f", ""]
    assert table["split"].tolist() == ["train", "development", "test1"]
    assert table["arousal"].tolist() == [5.8, 4.0, 3.0]
    assert table["valence"].tolist() == [2.2, 4.2, 3.4]
    assert table["dominance"][0] == 5.4 and math.isnan(table["dominance"][1])
    assert set(table["language"]) == {"en"}
    assert files_exist(table)


def test_unknown_code_names_file(corpus_root):
    labels = corpus_root / "Labels" / "labels_consensus.csv"
    labels.write_text(LABELS.replace(",X,", ",Z,"))
    with pytest.raises(ValueError, match="MSP-PODCAST_0002_0033.wav"):
        MSPPodcast(root=corpus_root).load()


def test_missing_column_names_csv(corpus_root):
    labels = corpus_root / "Labels" / "labels_consensus.csv"
    labels.write_text(LABELS.replace("EmoClass", "Emotion"))
    with pytest.raises(ValueError, match="EmoClass"):
        MSPPodcast(root=corpus_root).load()


def test_missing_audio(corpus_root):
    (corpus_root / "Audios" / "MSP-PODCAST_0001_0008.wav").unlink()
    assert MSPPodcast(root=corpus_root).load()["file"].str.endswith("0001_0008.wav").any()
    with pytest.raises(FileNotFoundError, match="MSP-PODCAST_0001_0008.wav"):
        load_corpora([{"name": "msp_podcast", "root": str(corpus_root)}])


def test_missing_root_and_labels(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        MSPPodcast(root=tmp_path / "absent").load()
    with pytest.raises(FileNotFoundError, match="labels_consensus.csv"):
        MSPPodcast(root=tmp_path).load()
