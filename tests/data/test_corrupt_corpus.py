import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emotransfer.data.corpora.csv import CsvCorpus
from emotransfer.data.corrupt import AddNoise, Gain
from emotransfer.data.corrupt_corpus import corrupt_corpus
from emotransfer.data.manifest import normalize_manifest

RATE = 16000
SPEC = [{"name": "noise", "snr_db": [5, 15], "noise": "pink"}, {"name": "gain", "db": -3}]


@pytest.fixture
def table(tmp_path):
    rows = []
    for index, (speaker, emotion) in enumerate([("01", "anger"), ("02", "sadness"), ("03", "joy")]):
        time = np.arange(RATE // 2) / RATE
        path = tmp_path / "source" / f"spk{speaker}" / "utt.wav"  # same names, other folders
        path.parent.mkdir(parents=True)
        sf.write(path, 0.2 * np.sin(2 * np.pi * 200 * (index + 1) * time), RATE)
        rows.append({"file": str(path), "speaker": speaker, "emotion": emotion, "session": 1})
    rows.append({**rows[0], "start": 0.1, "end": 0.4})  # a segment of the first file
    return normalize_manifest(pd.DataFrame(rows), corpus="toy")


def test_copy_is_a_loadable_csv_corpus(tmp_path, table):
    out = tmp_path / "noisy"
    copy = corrupt_corpus(table, SPEC, out_dir=out, seed=3, condition="pink_10db")
    loaded = CsvCorpus(root=out).load()
    assert len(loaded) == len(copy) == 4 and loaded["file"].tolist() == copy["file"].tolist()
    assert loaded["speaker"].tolist() == ["01", "02", "03", "01"]
    assert loaded["emotion"].tolist() == ["anger", "sadness", "happiness", "anger"]
    assert loaded["session"].tolist() == [1, 1, 1, 1] and set(loaded["corpus"]) == {"toy"}
    assert set(loaded["condition"]) == {"pink_10db"}
    assert loaded["source_file"].tolist() == table["file"].tolist()
    assert loaded["start"].isna().all() and loaded["source_end"].tolist()[3] == 0.4
    assert json.loads(loaded["corruption"][0])["steps"][0]["noise"] == "pink"
    metadata = pd.read_csv(out / "metadata.csv")
    assert all(name.startswith("audio/") for name in metadata["file"])
    assert len(set(metadata["file"])) == 4
    for file, expected in zip(loaded["file"], [0.5, 0.5, 0.5, 0.3], strict=True):
        info = sf.info(file)
        assert info.subtype == "PCM_16" and info.samplerate == RATE
        assert math.isclose(info.duration, expected)
    assert not list(out.rglob("*.tmp"))


def test_resume_skips_written_files(tmp_path, table):
    out = tmp_path / "noisy"
    copy = corrupt_corpus(table, SPEC, out_dir=out)
    stamps = {file: Path(file).stat().st_mtime_ns for file in copy["file"]}
    first = sf.read(copy["file"][1])[0]
    Path(copy["file"][1]).unlink()
    again = corrupt_corpus(table, SPEC, out_dir=out)
    assert again.equals(copy)
    for file, stamp in stamps.items():
        if file != copy["file"][1]:
            assert Path(file).stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(sf.read(copy["file"][1])[0], first)  # rebuilt identically


def test_output_does_not_depend_on_row_order(tmp_path, table):
    forward = corrupt_corpus(table, SPEC, out_dir=tmp_path / "a")
    backward = corrupt_corpus(table.iloc[::-1], SPEC, out_dir=tmp_path / "b")
    for file, other in zip(forward["file"], backward["file"][::-1], strict=True):
        np.testing.assert_array_equal(sf.read(file)[0], sf.read(other)[0])
    other_seed = corrupt_corpus(table, SPEC, out_dir=tmp_path / "c", seed=1)
    assert not np.array_equal(sf.read(forward["file"][0])[0], sf.read(other_seed["file"][0])[0])


def test_other_settings_in_the_same_folder_are_refused(tmp_path, table):
    out = tmp_path / "noisy"
    corrupt_corpus(table, AddNoise(snr_db=5), out_dir=out)
    with pytest.raises(ValueError, match="other settings"):
        corrupt_corpus(table, Gain(db=-6), out_dir=out)
    with pytest.raises(ValueError, match="other settings"):
        corrupt_corpus(table, AddNoise(snr_db=5), out_dir=out, seed=9)
