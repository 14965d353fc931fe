import numpy as np
import pandas as pd

from emotransfer.run_inputs import changes, describe, input_record, run_digest


def manifest(tmp_path, count=3):
    rows = []
    for i in range(count):
        path = tmp_path / f"clip{i}.wav"
        path.write_bytes(f"audio {i}".encode())
        rows.append({"file": str(path), "start": np.nan, "end": np.nan, "corpus": "c",
                     "speaker": f"s{i}", "emotion": "anger", "valence": 0.5})  # fmt: skip
    return pd.DataFrame(rows)


def test_same_inputs_have_no_changes(tmp_path):
    table = manifest(tmp_path)
    saved = input_record({"seed": 0}, table)
    assert changes({"seed": 0}, table, saved) == []
    assert run_digest(saved) == run_digest(input_record({"seed": 0}, table.copy()))


def test_each_change_is_named(tmp_path):
    table = manifest(tmp_path)
    saved = input_record({"seed": 0, "head": {"name": "svm"}}, table)
    config = {"seed": 0, "head": {"name": "svm"}}
    assert changes({"seed": 1, "head": {"name": "logreg"}}, table, saved) == [
        "the config changed: head.name, seed"
    ]
    relabelled = table.assign(valence=[0.5, 0.9, 0.5])
    assert changes(config, relabelled, saved) == [
        "the label of 1 row(s) changed, e.g. clip1.wav: valence 0.5 -> 0.9"
    ]
    (tmp_path / "clip2.wav").write_bytes(b"other audio")
    assert changes(config, table, saved) == ["the audio of 1 file(s) changed, e.g. clip2.wav"]
    (tmp_path / "clip2.wav").write_bytes(b"audio 2")
    assert changes(config, table.iloc[:2], saved) == ["1 row(s) removed, e.g. clip2.wav"]
    segment = table.iloc[:1].assign(start=[0.0], end=[1.0])
    assert changes(config, pd.concat([table, segment]), saved) == [
        "1 row(s) added, e.g. clip0.wav[0.0:1.0]"
    ]
    assert changes(config, table.iloc[::-1], saved) == ["the order of the manifest rows changed"]


def test_moved_corpus_has_the_same_record(tmp_path):
    (tmp_path / "a").mkdir()
    table = manifest(tmp_path / "a")
    before = input_record({}, table)
    (tmp_path / "a").rename(tmp_path / "b")
    moved = table.assign(file=[str(tmp_path / "b" / f"clip{i}.wav") for i in range(3)])
    assert describe(before, input_record({}, moved)) == []


def test_a_setting_added_with_its_default_is_the_same_run(tmp_path):
    table = manifest(tmp_path)
    saved = input_record({"seed": 0, "head": {"name": "svm"}}, table, settings={"seed": 0})
    # a later version adds head.temperature with a default that keeps the old behaviour
    grown = {"seed": 0, "head": {"name": "svm", "temperature": 1.0}}
    current = input_record(grown, table, settings={"seed": 0})
    assert describe(saved, current) == []
    assert run_digest(saved) == run_digest(current)
    moved = input_record(grown, table, settings={"seed": 0, "head": {"temperature": 2.0}})
    assert describe(saved, moved) == ["the config changed: head.temperature"]
    assert run_digest(saved) != run_digest(moved)


def test_a_record_of_an_older_version_is_read_by_its_keys(tmp_path):
    table = manifest(tmp_path)
    old = input_record({"seed": 0, "head": {"name": "svm"}}, table)  # no settings
    grown = {"seed": 0, "head": {"name": "svm", "temperature": 1.0}}
    assert describe(old, input_record(grown, table, settings={"seed": 0})) == []
    set_away = input_record(grown, table, settings={"head": {"temperature": 2.0}})
    assert describe(old, set_away) == ["the config changed: head.temperature"]
    renamed = {"seed": 0, "head": {"name": "logreg", "temperature": 1.0}}
    changed = input_record(renamed, table, settings={"head": {"name": "logreg"}})
    assert describe(old, changed) == ["the config changed: head.name"]


def test_the_text_a_run_reads_is_part_of_its_inputs(tmp_path):
    table = manifest(tmp_path).assign(text=["so angry", "fine", "sad"])
    text_only = {"finetune": None, "inputs": {"text": {"column": "text"}}}
    (tmp_path / "clip0.wav").unlink()  # a run of text alone reads no audio
    saved = input_record(text_only, table)
    changed = table.assign(text=["so angry", "fine", "glad"])
    assert changes(text_only, changed, saved) == ["the text of 1 file(s) changed, e.g. clip2.wav"]
    (tmp_path / "clip0.wav").write_bytes(b"audio 0")
    both = {"finetune": {}, "inputs": {"audio": {}, "text": {"column": "text"}}}
    saved = input_record(both, table)
    assert changes(both, changed, saved) == [
        "the audio or text of 1 file(s) changed, e.g. clip2.wav"
    ]
    # an early fusion (a frozen run of `features` and a text input) reads the audio too
    fused = {"finetune": None, "features": {"upstream": "egemaps"},
             "inputs": {"text": {"upstream": "hf_text", "column": "text"}}}  # fmt: skip
    saved = input_record(fused, table)
    (tmp_path / "clip1.wav").write_bytes(b"other audio")
    assert changes(fused, table, saved) == [
        "the audio or text of 1 file(s) changed, e.g. clip1.wav"
    ]
    audio_only = input_record({"seed": 0}, table)  # as before: rows without text digests
    assert [len(row) for row in audio_only["rows"]] == [5, 5, 5]
