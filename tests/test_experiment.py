import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile

import emotransfer.experiment as experiment
from emotransfer.config import load_config
from emotransfer.data.splits import LeakageError


def make_config(tmp_path, root, *overrides):
    base = [
        f"output_dir={tmp_path / 'runs'}",
        f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "features.workers=1",
        "evaluation.bootstrap=200",
        "head.grid={C: [0.01, 1.0]}",
    ]
    return load_config(None, overrides=[*base, *overrides])


def test_run_writes_a_complete_run_folder(tmp_path, synthetic_root):
    result = experiment.run(make_config(tmp_path, synthetic_root, "name=demo"), progress=False)
    folder = result.run_dir
    names = "config.yaml versions.json metrics.json predictions.csv report.html"
    for name in [*names.split(), "confusion_matrix.png", "per_class_recall.png", "folds.png"]:
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["classes"] == ["anger", "happiness", "neutral", "sadness"]
    uar = metrics["summary"]["uar"]
    assert uar["value"] > 0.5  # chance is 0.25: the synthetic emotions are learnable
    assert uar["ci_low"] <= uar["value"] <= uar["ci_high"]
    assert [f["held_out"] for f in metrics["folds"]] == [[f"synthetic/s0{i}"] for i in range(1, 5)]
    assert metrics["audit"]["ok"] and metrics["audit"]["speaker_overlap"] == {}
    predictions = pd.read_csv(folder / "predictions.csv")
    assert len(predictions) == 64 and set(predictions["fold"]) == {
        f"speaker=s0{i}" for i in range(1, 5)
    }
    for fold, rows in predictions.groupby("fold"):
        assert rows["speaker"].nunique() == 1 and fold.endswith(rows["speaker"].iloc[0])
    assert json.loads((folder / "versions.json").read_text())["emotransfer"]


def test_same_seed_same_results(tmp_path, synthetic_root):
    first = experiment.run(make_config(tmp_path, synthetic_root, "name=a"), progress=False)
    second = experiment.run(make_config(tmp_path, synthetic_root, "name=b"), progress=False)
    assert first.metrics["summary"] == second.metrics["summary"]
    assert second.metrics["features"]["cache_hits"] == 64  # reused across experiments


def test_killed_run_resumes_at_the_unfinished_fold(tmp_path, synthetic_root, monkeypatch):
    config = make_config(tmp_path, synthetic_root, "name=resume")
    complete = experiment.run(config, progress=False)
    (complete.run_dir / "folds" / "speaker=s03.json").unlink()
    (complete.run_dir / "metrics.json").unlink()
    calls = []
    original = experiment.run_fold
    monkeypatch.setattr(
        experiment, "run_fold", lambda *a, **k: calls.append(a[5].name) or original(*a, **k)
    )
    resumed = experiment.run(config, progress=False)
    assert calls == ["speaker=s03", "refit"]  # the unfinished fold, then the refit head
    assert resumed.metrics["summary"] == complete.metrics["summary"]


def test_changed_config_does_not_reuse_fold_results(tmp_path, synthetic_root, monkeypatch):
    experiment.run(make_config(tmp_path, synthetic_root, "name=x"), progress=False)
    calls = []
    original = experiment.run_fold
    monkeypatch.setattr(
        experiment, "run_fold", lambda *a, **k: calls.append(a[5].name) or original(*a, **k)
    )
    changed = make_config(tmp_path, synthetic_root, "name=x", "head.name=logreg", "head.grid={}")
    with pytest.raises(experiment.RunFolderError, match="config changed: head.grid.C, head.name"):
        experiment.run(changed, progress=False)
    assert calls == [] and "svm" in (tmp_path / "runs" / "x" / "config.yaml").read_text()
    experiment.run(changed, progress=False, force=True)
    assert len(calls) == 5 and calls[-1] == "refit"  # four folds and the refit head
    assert "logreg" in (tmp_path / "runs" / "x" / "config.yaml").read_text()


def bad_csv_corpus(tmp_path, synthetic_table):
    root = tmp_path / "corpus"
    (root / "audio").mkdir(parents=True)
    rows = synthetic_table.groupby("speaker").head(8).copy()
    for path in rows["file"]:
        shutil.copy(path, root / "audio")
    rows["file"] = "audio/" + rows["file"].map(lambda f: f.rsplit("/", 1)[1])
    (root / "audio" / "corrupt.wav").write_bytes(b"RIFF not really a wave file")
    soundfile.write(root / "audio" / "silent.wav", np.zeros(16000), 16000)
    extra = rows.iloc[:2].copy()
    extra["file"] = ["audio/corrupt.wav", "audio/silent.wav"]
    pd.concat([rows, extra]).to_csv(root / "metadata.csv", index=False)
    return root


def test_bad_audio_stops_the_run_with_the_full_list(tmp_path, synthetic_table):
    root = bad_csv_corpus(tmp_path, synthetic_table)
    config = make_config(tmp_path, root, f"data.corpora=[{{name: csv, root: {root}}}]")
    with pytest.raises(experiment.BadAudioError) as caught:
        experiment.run(config, progress=False)
    message = str(caught.value)
    assert "corrupt.wav: cannot decode" in message and "silent.wav: silent" in message
    assert len(caught.value.problems) == 2


def test_bad_audio_is_skipped_and_recorded_when_asked(tmp_path, synthetic_table):
    root = bad_csv_corpus(tmp_path, synthetic_table)
    config = make_config(tmp_path, root, f"data.corpora=[{{name: csv, root: {root}}}]",
                         "data.audio.on_error=skip")  # fmt: skip
    result = experiment.run(config, progress=False)
    skipped = {s["file"].rsplit("/", 1)[1] for s in result.metrics["data"]["skipped_files"]}
    assert skipped == {"corrupt.wav", "silent.wav"}
    assert result.metrics["data"]["n_files"] == 32


def test_leaking_predefined_split_is_refused_unless_allowed(tmp_path, synthetic_table):
    root = tmp_path / "split_corpus"
    root.mkdir()
    table = synthetic_table.copy()
    table["split"] = np.where(np.arange(len(table)) % 4 == 0, "test", "train")
    table.to_csv(root / "metadata.csv", index=False)
    corpus = f"data.corpora=[{{name: csv, root: {root}}}]"
    with pytest.raises(LeakageError, match="speaker leakage"):
        experiment.run(make_config(tmp_path, root, corpus, "split.kind=predefined"), progress=False)
    allowed = make_config(
        tmp_path, root, corpus, "split.kind=predefined", "split.allow_leakage=true"
    )
    result = experiment.run(allowed, progress=False)
    assert result.metrics["audit"]["ok"] is False and result.metrics["audit"]["leakage_allowed"]
    assert "LEAKAGE" in (result.run_dir / "report.html").read_text().upper()


def test_dimensional_targets_are_regressed_and_scored_with_ccc(tmp_path, synthetic_root):
    config = make_config(tmp_path, synthetic_root, "name=dims",
                         "evaluation.dimensions=[arousal, valence]")  # fmt: skip
    result = experiment.run(config, progress=False)
    arousal = result.metrics["dimensional"]["arousal"]
    assert arousal["n"] == 64 and arousal["ccc"]["value"] > 0.5
    predictions = pd.read_csv(result.run_dir / "predictions.csv")
    assert predictions["pred_arousal"].notna().all()
    assert "CCC" in (result.run_dir / "report.html").read_text()


def test_train_clean_test_corrupted_lowers_uar_and_is_recorded(tmp_path, synthetic_root):
    config = make_config(tmp_path, synthetic_root, "name=clean", "features.normalization=global")
    clean = experiment.run(config, progress=False)
    noise = "data.test_corruption={name: noise, snr_db: -5, noise: white}"
    config = make_config(
        tmp_path, synthetic_root, "name=noisy", "features.normalization=global", noise
    )
    noisy = experiment.run(config, progress=False)
    assert noisy.metrics["summary"]["uar"]["value"] < clean.metrics["summary"]["uar"]["value"]
    assert "test_corruption" in (noisy.run_dir / "config.yaml").read_text()
    copies = list((tmp_path / "cache" / "corrupted").glob("*/metadata.csv"))
    assert len(copies) == 1  # the corrupted copy is written once, under the cache


def test_frozen_run_predicts_new_audio_without_pickle(tmp_path, synthetic_root, synthetic_table):
    from emotransfer.cli import main
    from emotransfer.inference import Predictor

    result = experiment.run(make_config(tmp_path, synthetic_root, "name=infer"), progress=False)
    assert len(list((result.run_dir / "models").glob("*/head.safetensors"))) == 4
    predictor = Predictor.from_run(result.run_dir)
    speaker = synthetic_table[synthetic_table["speaker"] == "s01"]
    files = speaker["file"].tolist()
    outputs = predictor.predict_files(files, speakers=["s01"] * len(files))  # its own mean
    guesses = [max(p, key=p.get) for p in outputs]
    accuracy = np.mean([g == t for g, t in zip(guesses, speaker["emotion"])])
    assert accuracy > 0.5 and abs(sum(outputs[0].values()) - 1) < 1e-6
    with pytest.raises(ValueError, match="speaker 'x' has one clip"):
        predictor.predict_files(files[:3], speakers=["s01", "s01", "x"])
    assert main(["predict", str(result.run_dir), *files[:3]]) == 0


def test_a_clip_of_no_declared_speaker_is_read_alone_with_the_training_speakers_average(
    tmp_path, synthetic_root, synthetic_table
):
    from emotransfer.inference import Predictor
    from emotransfer.io import load_arrays
    from emotransfer.models.normalize import speaker_statistics

    result = experiment.run(make_config(tmp_path, synthetic_root, "name=alone"), progress=False)
    predictor = Predictor.from_run(result.run_dir)
    assert predictor.clip_independent
    files = synthetic_table["file"].tolist()
    alone = predictor.predict_file(files[0])
    for company in ([files[1]], files[1:8], files[-3:]):
        together = predictor.predict_files([files[0], *company])[0]
        assert together == pytest.approx(alone, abs=1e-7)  # whatever else is in the call
    guesses = [max(p, key=p.get) for p in predictor.predict_files(files)]
    assert np.mean([g == t for g, t in zip(guesses, synthetic_table["emotion"])]) > 0.5
    saved = load_arrays(result.run_dir / "speaker_stats.safetensors")  # (L + 1, D) each
    assert saved["mean"].shape == saved["scale"].shape and saved["mean"].ndim == 2
    assert saved["mean"].shape[1] == predictor.scorer.heads[0][0].shape[-1]
    mean, scale = speaker_statistics(np.array([[1.0], [3.0], [10.0], [14.0]]),
                                     np.array(["a", "a", "b", "b"]))  # fmt: skip
    assert (mean.tolist(), scale.tolist()) == ([7.0], [1.5])
    (result.run_dir / "speaker_stats.safetensors").write_bytes(b"edited")
    with pytest.raises(experiment.RunFolderError, match="speaker_stats.safetensors"):
        Predictor.from_run(result.run_dir)


def test_globally_normalised_run_predicts_a_single_file(tmp_path, synthetic_root, synthetic_table):
    from emotransfer.inference import Predictor

    config = make_config(tmp_path, synthetic_root, "name=global", "features.normalization=global",
                         "head.name=logreg", "head.grid={}")  # fmt: skip
    result = experiment.run(config, progress=False)
    probabilities = Predictor.from_run(result.run_dir).predict_file(synthetic_table["file"].iloc[0])
    assert set(probabilities) == {"anger", "happiness", "neutral", "sadness"}


def test_multitask_head_with_an_auxiliary_task_runs_in_an_experiment(tmp_path, synthetic_root):
    config = make_config(tmp_path, synthetic_root, "name=mt", "head.name=multitask",
                         "head.grid={}", "head.params={epochs: 100, hidden: 32}",
                         "head.auxiliary=[gender]")  # fmt: skip
    result = experiment.run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] > 0.4
    with pytest.raises(ValueError, match="no column 'accent'"):
        experiment.run(make_config(tmp_path, synthetic_root, "name=mt2", "head.name=multitask",
                                   "head.auxiliary=[accent]"), progress=False)  # fmt: skip


def test_multitask_head_learns_the_dimensions_jointly_with_ccc(
    tmp_path, synthetic_root, synthetic_table, capsys
):
    config = make_config(tmp_path, synthetic_root, "name=mt_dims", "head.name=multitask",
                         "head.grid={}", "head.params={epochs: 150, hidden: 32}",
                         "evaluation.dimensions=[arousal, valence]")  # fmt: skip
    result = experiment.run(config, progress=False)
    arousal = result.metrics["dimensional"]["arousal"]
    assert arousal["model"] == "multitask head (joint)"
    assert arousal["n"] == 64 and arousal["ccc"]["value"] > 0.5
    # A resumed run scores the same joint predictions from the saved folds.
    again = experiment.run(config, progress=False)
    assert again.metrics["dimensional"]["arousal"]["ccc"] == arousal["ccc"]
    # The served refit head predicts the dimensions too: by the Predictor and on the CLI.
    from emotransfer.cli import main
    from emotransfer.inference import Predictor

    predictor = Predictor.from_run(result.run_dir)
    assert predictor.dimensions == ("arousal", "valence")
    table = pd.read_csv(result.run_dir / "predictions.csv").drop_duplicates("file")
    guesses = predictor.predict_files(table["file"].tolist(), values=True)
    assert list(guesses[0]) == [*predictor.classes, "arousal", "valence"]
    served = np.array([g["arousal"] for g in guesses])
    truth = synthetic_table.set_index("file").loc[table["file"], "arousal"].to_numpy()
    assert np.corrcoef(served, truth)[0, 1] > 0.7  # the refit saw these clips
    assert list(predictor.predict_files(table["file"].tolist()[:1])[0]) == predictor.classes
    capsys.readouterr()
    assert main(["predict", str(result.run_dir), table["file"].iloc[0]]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[-2:] == ["arousal", "valence"]


def test_svm_probabilities_are_calibrated_on_inner_folds_not_votes(
    tmp_path, synthetic_root, synthetic_table
):
    from safetensors.numpy import load_file

    from emotransfer.inference import Predictor

    calibrated = experiment.run(make_config(tmp_path, synthetic_root, "name=t"), progress=False)
    votes = experiment.run(make_config(tmp_path, synthetic_root, "name=v",
                                       "head.calibration=none"), progress=False)  # fmt: skip
    assert calibrated.metrics["summary"] == votes.metrics["summary"]  # the same predictions
    assert "calibration" not in votes.metrics  # an SVM without calibration has no probabilities
    report = calibrated.metrics["calibration"]
    assert report["method"] == "temperature" and 0 <= report["ece"] < 0.3 and report["nll"] < 1.4
    table = pd.read_csv(calibrated.run_dir / "predictions.csv")
    columns = [c for c in table if c.startswith("prob_")]
    probabilities = table[columns].to_numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert (probabilities.argmax(axis=1) == table["predicted"].map(
        {c[5:]: i for i, c in enumerate(columns)})).mean() > 0.95  # fmt: skip
    for fold in calibrated.metrics["folds"]:
        assert fold["temperature"] > 0
    refit = load_file(str(calibrated.run_dir / "refit" / "head.safetensors"))
    assert refit["head.temperature"][0] == calibrated.metrics["refit"]["temperature"]
    speaker = synthetic_table[synthetic_table["speaker"] == "s01"]["file"].tolist()
    served = Predictor.from_run(calibrated.run_dir).predict_files(speaker)
    assert all(0 < p < 1 for row in served for p in row.values())
    voted = Predictor.from_run(votes.run_dir).predict_files(speaker)
    assert all(set(row.values()) == {0.0, 1.0} for row in voted)


def test_an_enrolled_speaker_reads_a_single_clip_as_among_its_enrolment_clips(
    tmp_path, synthetic_root, synthetic_table
):
    from emotransfer.cli import main
    from emotransfer.inference import Predictor
    from emotransfer.inference.enrolment import enroll, load_enrolment, save_enrolment

    result = experiment.run(make_config(tmp_path, synthetic_root, "name=enrol"), progress=False)
    predictor = Predictor.from_run(result.run_dir)
    files = synthetic_table.loc[synthetic_table["speaker"] == "s02", "file"].tolist()
    stats = enroll(predictor, [predictor.load(f) for f in files])
    save_enrolment(tmp_path / "s02.safetensors", stats, result.run_dir)
    loaded = load_enrolment(tmp_path / "s02.safetensors", result.run_dir)
    together = predictor.predict_files(files, speakers=["s02"] * len(files))
    for number in (0, 5):  # one clip alone, read as among the clips it was enrolled with
        alone = predictor.predict_files([files[number]], enrolled=loaded)[0]
        assert alone == pytest.approx(together[number], abs=1e-7)
    assert main(["enroll", str(result.run_dir), *files[:4], "--out", str(tmp_path / "e.st")]) == 0
    assert main(["predict", str(result.run_dir), files[0], "--enrolled",
                 str(tmp_path / "e.st")]) == 0  # fmt: skip
    with pytest.raises(ValueError, match="at least two clips"):
        enroll(predictor, [predictor.load(files[0])])
    other = experiment.run(make_config(tmp_path, synthetic_root, "name=other", "seed=1"),
                           progress=False)  # fmt: skip
    with pytest.raises(experiment.RunFolderError, match="enrolled with another run"):
        load_enrolment(tmp_path / "s02.safetensors", other.run_dir)
