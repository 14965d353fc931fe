import audformat
import numpy as np
import pytest
import soundfile

from emotransfer.data.corpora.audformat_db import AudformatCorpus


def database(root, storage_format="csv"):
    """Four files of two speakers (a `files` table), their emotions (filewise table
    `emotion`) and two segments (segmented table `seg`)."""
    files = [f"audio/{i}.wav" for i in range(4)]
    (root / "audio").mkdir(parents=True)
    for name in files:
        soundfile.write(root / name, np.zeros(8000), 16000)
    db = audformat.Database("toy", languages=["de"])
    db.schemes["emotion"] = audformat.Scheme(labels=["angry", "sad"])
    db.schemes["speaker"] = audformat.Scheme("str")
    db["files"] = audformat.Table(audformat.filewise_index(files))
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set(["a", "a", "b", "b"])
    db["emotion"] = audformat.Table(audformat.filewise_index(files))
    db["emotion"]["emotion"] = audformat.Column(scheme_id="emotion")
    db["emotion"]["emotion"].set(["angry", "sad", "angry", "sad"])
    db["seg"] = audformat.Table(audformat.segmented_index(files[:2], [0, 0.1], [0.2, 0.4]))
    db["seg"]["emotion"] = audformat.Column(scheme_id="emotion")
    db["seg"]["emotion"].set(["sad", "angry"])
    db.save(str(root), storage_format=storage_format)
    return root


@pytest.mark.parametrize("storage_format", ["csv", "parquet"])
def test_a_filewise_table_with_speakers_from_another_table(tmp_path, storage_format):
    root = database(tmp_path / "db", storage_format)
    table = AudformatCorpus(root=root).load()
    assert table["file"].tolist() == [str(root / f"audio/{i}.wav") for i in range(4)]
    assert table["emotion"].tolist() == ["anger", "sadness", "anger", "sadness"]
    assert table["speaker"].tolist() == ["a", "a", "b", "b"]
    assert set(table["corpus"]) == {"toy"} and table["start"].isna().all()


def test_a_segmented_table_gives_one_clip_per_segment(tmp_path):
    root = database(tmp_path / "db")
    table = AudformatCorpus(root=root, table="seg").load()
    assert table[["start", "end"]].values.tolist() == [[0.0, 0.2], [0.1, 0.4]]
    assert table["label"].tolist() == ["sad", "angry"]  # as written
    assert table["emotion"].tolist() == ["sadness", "anger"]
    assert table["speaker"].tolist() == ["a", "a"]  # each segment's file's speaker
    no_speaker = AudformatCorpus(root=root, speaker=None).load()
    assert no_speaker["speaker"].nunique() == 4


def test_bad_databases_are_named_and_pickles_never_read(tmp_path):
    root = database(tmp_path / "db")
    with pytest.raises(ValueError, match="no table 'arousal'; tables: \\['emotion', 'files'"):
        AudformatCorpus(root=root, table="arousal").load()
    with pytest.raises(ValueError, match="has no column 'valence'; columns: \\['emotion'\\]"):
        AudformatCorpus(root=root, column="valence").load()
    (root / "db.emotion.csv").rename(root / "db.emotion.pkl")
    with pytest.raises(FileNotFoundError, match="stored only as db.emotion.pkl: emotransfer "
                       "never unpickles"):  # fmt: skip
        AudformatCorpus(root=root).load()
    with pytest.raises(FileNotFoundError, match="holds no db.yaml"):
        AudformatCorpus(root=root / "audio").load()
