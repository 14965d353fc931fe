import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from emotransfer.data.corpora.hf_dataset import HFDatasetCorpus

datasets = pytest.importorskip("datasets")


def wav_bytes(frequency):
    buffer = io.BytesIO()
    time = np.arange(4000) / 16000
    soundfile.write(buffer, 0.1 * np.sin(2 * np.pi * frequency * time), 16000, format="WAV")
    return buffer.getvalue()


def saved(tmp_path):
    """A DatasetDict: train holds clips as bytes with a ClassLabel, test clips as paths."""
    # clips as {bytes, path} structs cast to Audio (encoding would need torchcodec)
    clip = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    features = datasets.Features({"audio": clip, "speaker": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["angry", "sad"]),
                                  "sentence": datasets.Value("string")})  # fmt: skip
    train = datasets.Dataset.from_dict({
        "audio": [{"bytes": wav_bytes(f), "path": f"c{i}.wav"} for i, f in enumerate([300, 900])],
        "speaker": ["s1", "s2"], "label": [0, 1], "sentence": ["grr", "oh no"],
    }, features=features)  # fmt: skip
    (tmp_path / "clips").mkdir()
    path = tmp_path / "clips" / "t.flac"
    soundfile.write(path, np.zeros(4000), 16000, format="FLAC")
    test = datasets.Dataset.from_dict({
        "audio": [{"bytes": None, "path": str(path)}], "speaker": [""], "label": [1],
        "sentence": [None],
    }, features=features)  # fmt: skip
    both = datasets.DatasetDict({"train": train, "test": test}).cast_column(
        "audio", datasets.Audio()
    )
    assert isinstance(both["train"].features["audio"], datasets.Audio)
    both.save_to_disk(str(tmp_path / "ds"))
    return tmp_path / "ds"


def test_clips_as_bytes_become_files_and_class_labels_their_names(tmp_path):
    root = saved(tmp_path)
    table = HFDatasetCorpus(root=root, text="sentence").load()  # sorted by file
    rows = {text: (emotion, partition, speaker) for text, emotion, partition, speaker in
            table[["text", "emotion", "partition", "speaker"]].values}  # fmt: skip
    assert rows["grr"] == ("anger", "train", "s1") and rows["oh no"] == ("sadness", "train", "s2")
    assert rows[""][:2] == ("sadness", "test") and rows[""][2].startswith("file:")
    # save_to_disk embeds the path's bytes too: every clip is written once, by its digest
    written = [f for f in table["file"] if f.startswith(str(tmp_path / "ds.audio"))]
    assert len(written) == 3 and all(soundfile.info(f).frames == 4000 for f in written)
    assert sorted(Path(f).suffix for f in written) == [".flac", ".wav", ".wav"]
    corpus = HFDatasetCorpus(root=root)  # a clip stored as an existing path is used there
    path = str(tmp_path / "clips" / "t.flac")
    assert corpus._file({"bytes": None, "path": path}, tmp_path / "unused", 0) == path
    with pytest.raises(FileNotFoundError, match="row 4: the clip has no bytes and its path"):
        corpus._file({"bytes": None, "path": "gone.wav"}, tmp_path / "unused", 4)
    again = HFDatasetCorpus(root=root, split="train").load()  # the same files, not rewritten
    assert set(again["file"]) < set(written)


def test_bad_splits_and_columns_are_named(tmp_path):
    root = saved(tmp_path)
    with pytest.raises(ValueError, match="no split 'dev'; splits: \\['train', 'test'\\]"):
        HFDatasetCorpus(root=root, split="dev").load()
    with pytest.raises(ValueError, match="no column\\(s\\) \\['emotion'\\]"):
        HFDatasetCorpus(root=root, label="emotion").load()
    with pytest.raises(FileNotFoundError, match="not a dataset saved with save_to_disk"):
        HFDatasetCorpus(root=tmp_path / "clips").load()
