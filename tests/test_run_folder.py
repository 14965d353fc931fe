"""A run folder is claimed only when its run starts, and reused only on the same inputs."""

import json
import shutil

import pandas as pd
import pytest
import soundfile

import emotransfer.experiment as experiment
from emotransfer.config import load_config
from emotransfer.run_folder import result_config
from emotransfer.run_lock import RunFolderBusy, RunLock


def csv_corpus(tmp_path, synthetic_table):
    """A copy of the synthetic corpus as a csv corpus whose files and labels tests edit."""
    root = tmp_path / "corpus"
    (root / "audio").mkdir(parents=True)
    rows = synthetic_table.copy()
    for path in rows["file"]:
        shutil.copy(path, root / "audio")
    rows["file"] = "audio/" + rows["file"].map(lambda f: f.rsplit("/", 1)[1])
    rows.to_csv(root / "metadata.csv", index=False)
    return root


def config_of(tmp_path, root, *overrides):
    return load_config(None, overrides=[
        f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}", "name=run",
        f"data.corpora=[{{name: csv, root: {root}}}]", "features.workers=1",
        "evaluation.bootstrap=0", "head.name=logreg", "head.grid={}", *overrides,
    ])  # fmt: skip


def test_changed_labels_or_audio_are_named_and_never_reuse_folds(tmp_path, synthetic_table):
    root = csv_corpus(tmp_path, synthetic_table)
    config = config_of(tmp_path, root)
    first = experiment.run(config, progress=False)
    table = pd.read_csv(root / "metadata.csv", dtype=str)
    name = table.loc[0, "file"].rsplit("/", 1)[1]
    table.loc[0, "emotion"] = "sadness" if table.loc[0, "emotion"] != "sadness" else "anger"
    table.to_csv(root / "metadata.csv", index=False)
    for resume in (False, True):
        with pytest.raises(experiment.RunFolderError, match=f"label of 1 row.*{name}: emotion"):
            experiment.run(config, progress=False, resume=resume)
    fresh = experiment.run(config, progress=False, force=True)
    elsewhere = experiment.run(config_of(tmp_path, root, "name=fresh"), progress=False)
    assert fresh.metrics["summary"] == elsewhere.metrics["summary"]
    assert first.metrics["labels"] != fresh.metrics["labels"]
    wave, rate = soundfile.read(root / table.loc[1, "file"])
    soundfile.write(root / table.loc[1, "file"], wave[::-1], rate)
    with pytest.raises(experiment.RunFolderError, match="audio of 1 file"):
        experiment.run(config, progress=False)


def test_a_failed_run_leaves_the_finished_run_as_it_was(tmp_path, synthetic_table):
    root = csv_corpus(tmp_path, synthetic_table)
    finished = experiment.run(config_of(tmp_path, root), progress=False).run_dir
    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    with pytest.raises(KeyError, match="unknown upstream 'egemap'"):
        experiment.run(config_of(tmp_path, root, "features.upstream=egemap"), progress=False)
    after = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    assert after == before


def test_a_folder_in_use_is_refused(tmp_path, synthetic_table):
    root = csv_corpus(tmp_path, synthetic_table)
    config = config_of(tmp_path, root)
    busy = pytest.raises(RunFolderBusy, match="is in use by another run")
    with RunLock(tmp_path / "runs" / "run"), busy:
        experiment.run(config, progress=False)
    assert not (tmp_path / "runs" / "run" / "config.yaml").exists()
    experiment.run(config, progress=False)


def test_resume_needs_a_run(tmp_path, synthetic_table):
    root = csv_corpus(tmp_path, synthetic_table)
    with pytest.raises(experiment.RunFolderError, match="holds no run to resume"):
        experiment.run(config_of(tmp_path, root), progress=False, resume=True)


def test_settings_that_change_no_result_continue_the_run(tmp_path, synthetic_table, monkeypatch):
    root = csv_corpus(tmp_path, synthetic_table)
    experiment.run(config_of(tmp_path, root, "split.only_folds=[speaker=s01]"), progress=False)
    calls = []
    original = experiment.run_fold
    monkeypatch.setattr(
        experiment, "run_fold", lambda *a, **k: calls.append(a[5].name) or original(*a, **k)
    )
    experiment.run(config_of(tmp_path, root, "evaluation.bootstrap=50"), progress=False)
    assert len(calls) == 4 and calls[-1] == "refit"  # a finished fold reused, three run
    assert "split" in result_config(config_of(tmp_path, root))
    assert "only_folds" not in result_config(config_of(tmp_path, root))["split"]


def test_layer_out_of_range_is_named(tmp_path, synthetic_table):
    root = csv_corpus(tmp_path, synthetic_table)
    for layer in (-99, 5):
        with pytest.raises(ValueError, match=f"features.layer={layer}: upstream 'egemaps' gives "
                                             "1 hidden state"):  # fmt: skip
            experiment.run(config_of(tmp_path, root, f"features.layer={layer}"), progress=False)


def test_raise_lists_missing_and_bad_audio_together(tmp_path, synthetic_table):
    root = csv_corpus(tmp_path, synthetic_table)
    table = pd.read_csv(root / "metadata.csv", dtype=str)
    extra = table.iloc[:2].copy()
    extra["file"] = ["audio/gone.wav", "audio/corrupt.wav"]
    (root / "audio" / "corrupt.wav").write_bytes(b"RIFF garbage")
    pd.concat([table, extra]).to_csv(root / "metadata.csv", index=False)
    with pytest.raises(experiment.BadAudioError) as caught:
        experiment.run(config_of(tmp_path, root), progress=False)
    problems = {p["file"].rsplit("/", 1)[1]: p["problem"] for p in caught.value.problems}
    assert problems["gone.wav"] == "file does not exist"
    assert problems["corrupt.wav"].startswith("cannot decode audio")


def test_a_run_resumes_across_a_setting_added_with_its_default(tmp_path, synthetic_table,
                                                                monkeypatch):  # fmt: skip
    root = csv_corpus(tmp_path, synthetic_table)
    first = experiment.run(config_of(tmp_path, root, "split.only_folds=[speaker=s01]"),
                           progress=False)  # fmt: skip
    record = json.loads((first.run_dir / "inputs.json").read_text())
    assert "normalization" not in record["settings"].get("features", {})
    del record["config"]["features"]["normalization"]  # as an older version wrote it
    (first.run_dir / "inputs.json").write_text(json.dumps(record))
    calls = []
    original = experiment.run_fold
    monkeypatch.setattr(
        experiment, "run_fold", lambda *a, **k: calls.append(a[5].name) or original(*a, **k)
    )
    experiment.run(config_of(tmp_path, root), progress=False, resume=True)
    assert len(calls) == 4  # the finished fold reused
    legacy = {key: value for key, value in record.items() if key != "settings"}
    (first.run_dir / "inputs.json").write_text(json.dumps(legacy))
    with pytest.raises(experiment.RunFolderError, match="config changed: seed"):
        experiment.run(config_of(tmp_path, root, "seed=1"), progress=False)
    resumed = experiment.run(config_of(tmp_path, root), progress=False, resume=True)
    assert "settings" in json.loads((resumed.run_dir / "inputs.json").read_text())
