"""Transcripts by ASR (faster-whisper on a tiny CTranslate2 Whisper), cached per clip."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile
from tests.tiny_models import save_tiny_ct2_whisper

from emotransfer.config import ConfigError, load_config
from emotransfer.features.transcripts import Transcriber, transcribe_rows


def clips(folder, count=3):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for number in range(count):
        path = folder / f"clip{number}.wav"
        soundfile.write(path, 0.1 * rng.normal(size=8000), 16000)
        paths.append(str(path))
    return paths


def test_blank_rows_are_transcribed_given_text_kept_and_both_cached(tmp_path, tiny_asr, caplog):
    table = pd.DataFrame({"file": clips(tmp_path / "audio"), "text": ["said so", "", np.nan]})
    loads = []

    def load(row):
        loads.append(row["file"])
        return soundfile.read(row["file"], dtype="float32")[0]

    found = transcribe_rows(table, Transcriber(model=tiny_asr, beam_size=1), load=load,
                            cache_dir=tmp_path / "cache")  # fmt: skip
    assert found["text"].tolist() == ["said so", "x", "x"]
    assert found["text_source"].tolist() == ["given", "asr", "asr"]
    assert found["language"].tolist() == ["", "en", "en"]
    assert found["language_probability"].iloc[1] == 1.0 and len(loads) == 2
    assert table["text"].iloc[1] == ""  # the caller's table is left as it was

    cached = Transcriber(model=tiny_asr, beam_size=1)
    cached._load = lambda: pytest.fail("a cached transcript was made again")
    again = transcribe_rows(table, cached, load=load, cache_dir=tmp_path / "cache")
    assert again.equals(found) and len(loads) == 2

    everything = transcribe_rows(table, Transcriber(model=tiny_asr, beam_size=1), load=load,
                                 cache_dir=tmp_path / "cache", replace=True)  # fmt: skip
    assert everything["text"].tolist() == ["x", "x", "x"] and len(loads) == 3

    entries = sorted((tmp_path / "cache" / "transcripts").glob("*/*.json"))
    assert len(entries) == 3
    entries[0].write_text('{"key": "another clip", "text": "forged"}')
    made_again = transcribe_rows(table, Transcriber(model=tiny_asr, beam_size=1), load=load,
                                 cache_dir=tmp_path / "cache", replace=True)  # fmt: skip
    assert "forged" not in made_again["text"].tolist() and len(loads) == 4
    assert "unusable transcript cache entry" in caplog.text
    assert json.loads(entries[0].read_text())["text"] == "x"


def test_another_model_or_setting_is_another_cache_entry(tmp_path, tiny_asr):
    table = pd.DataFrame({"file": clips(tmp_path / "audio", 1)})

    def load(row):
        return soundfile.read(row["file"], dtype="float32")[0]

    other = save_tiny_ct2_whisper(tmp_path / "other", word="y")
    cache = tmp_path / "cache"
    first = transcribe_rows(table, Transcriber(model=tiny_asr), load=load, cache_dir=cache)
    second = transcribe_rows(table, Transcriber(model=str(other)), load=load, cache_dir=cache)
    assert first["text"].tolist() == ["x"] and second["text"].tolist() == ["y"]
    greedy = Transcriber(model=tiny_asr, beam_size=1)
    assert Transcriber(model=tiny_asr).identity() != greedy.identity()
    assert len(list((cache / "transcripts").iterdir())) == 2


def test_an_unusable_clip_stays_blank_and_is_not_cached(tmp_path, tiny_asr):
    table = pd.DataFrame({"file": clips(tmp_path / "audio", 2)})
    found = transcribe_rows(table, Transcriber(model=tiny_asr), cache_dir=tmp_path / "cache",
                            load=lambda row: None if row["file"].endswith("0.wav") else
                            soundfile.read(row["file"], dtype="float32")[0])  # fmt: skip
    assert found["text"].tolist() == ["", "x"]
    assert found["text_source"].tolist() == ["unreadable", "asr"]
    assert len(list((tmp_path / "cache").glob("transcripts/*/*.json"))) == 1


def test_a_model_that_does_not_load_is_named(tmp_path):
    missing = tmp_path / "no_model"
    with pytest.raises(ValueError, match="data.asr.model '.*no_model': not a CTranslate2 Whis"):
        Transcriber(model=str(missing)).transcribe(np.zeros(1600, dtype=np.float32))


def test_the_asr_section_needs_a_model():
    with pytest.raises(ConfigError, match="data.asr.model"):
        load_config(None, overrides=["data.asr={language: en}"])


def test_transcribe_on_the_command_line_writes_one_row_per_clip(tmp_path, tiny_asr, capsys):
    from emotransfer.cli import main

    paths = clips(tmp_path / "corpus" / "audio", 2)
    pd.DataFrame({"file": [p.split("corpus/")[1] for p in paths], "speaker": ["a", "b"],
                  "emotion": ["anger", "sadness"], "text": ["given", ""]}).to_csv(
        tmp_path / "corpus" / "metadata.csv", index=False)  # fmt: skip
    config = tmp_path / "config.yaml"
    corpus = tmp_path / "corpus"
    config.write_text(f"cache_dir: {tmp_path / 'cache'}\n"
                      f"data: {{corpora: [{{name: csv, root: {corpus}}}]}}\n")  # fmt: skip
    status = main(["transcribe", str(config), "-o", f"data.asr={{model: {tiny_asr}}}",
                   "--out", str(tmp_path / "t.csv")])  # fmt: skip
    assert status == 0
    table = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert table["text"].tolist() == ["given", "x"]
    assert table["text_source"].tolist() == ["given", "asr"]
    assert main(["transcribe", str(config)]) == 2
    assert "no data.asr section" in capsys.readouterr().err
