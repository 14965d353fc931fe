"""A run folder is untrusted input: nothing read from it may import or run code, silent edits
are refused naming the file, malformed files give clear errors, bad audio files are listed."""

import json
import shutil
import sys

import numpy as np
import pytest
import soundfile
from safetensors.numpy import load_file, save_file

from emotransfer.cli import main
from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor
from emotransfer.model_spec import read_model_spec
from emotransfer.run_files import RunFolderError, record_model_files


def frozen_config(tmp_path, corpora, *overrides):
    return load_config(None, overrides=[
        "name=frozen", f"output_dir={tmp_path / 'runs'}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora={corpora}", "features.upstream=logmel", "features.workers=1",
        "head.name=logreg", "head.grid={C: [1.0]}", "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


@pytest.fixture(scope="module")
def frozen_run(tmp_path_factory, synthetic_root):
    """A finished frozen-feature run (logmel, logreg, per-speaker normalisation) whose clips
    were at most 2.6 s long (the synthetic clips last 1.0 to 2.5 s)."""
    tmp_path = tmp_path_factory.mktemp("frozen_run")
    corpora = (f"[{{name: synthetic, root: {synthetic_root}, "
               "params: {num_speakers: 4, utterances_per_emotion: 4}}]")  # fmt: skip
    config = frozen_config(tmp_path, corpora, "data.audio.max_duration=2.6", "head.refit=false")
    return run(config, progress=False).run_dir  # the fold heads: what the edits below reach


@pytest.fixture
def folder(frozen_run, tmp_path):
    """A copy of the run folder to edit."""
    return shutil.copytree(frozen_run, tmp_path / "run")


@pytest.fixture
def clips(synthetic_table):
    return synthetic_table.loc[synthetic_table["speaker"] == "s01", "file"].tolist()[:4]


def edit_spec(folder, **changes):
    spec = json.loads((folder / "model.json").read_text())
    spec.update(changes)
    (folder / "model.json").write_text(json.dumps(spec))


def predict(capsys, folder, *arguments):
    code = main(["predict", str(folder), *map(str, arguments)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_a_finished_run_records_its_model_files_and_predicts(frozen_run, clips):
    record = json.loads((frozen_run / "files.json").read_text())
    assert record["folds"] == 4 and "model.json" in record["files"]
    assert sum(name.endswith("head.safetensors") for name in record["files"]) == 4
    predictor = Predictor.from_run(frozen_run)
    assert predictor.upstream is not None and predictor.max_duration == 2.6
    outputs = predictor.predict_files(clips)
    assert set(outputs[0]) == {"anger", "happiness", "neutral", "sadness"}
    assert abs(sum(outputs[0].values()) - 1) < 1e-6
    assert predictor.upstream.sample_rate == 16000


def test_a_strategy_from_model_json_never_runs_a_command(folder, clips, tmp_path, capsys):
    marker = tmp_path / "marker"
    spec = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({
        "model": str(tmp_path), "whisper_input": "real_length", "classes": spec["classes"],
        "layer": None, "strategy": "subprocess:Popen",
        "strategy_params": {"args": f"touch {marker}", "shell": True}, "sample_rate": 16000,
    }))  # fmt: skip
    record_model_files(folder)  # whoever edits a shared folder can also re-record it
    code, _, err = predict(capsys, folder, *clips)
    assert code == 2 and "emotransfer: error:" in err
    assert "model.json: \"strategy\": 'subprocess:Popen' is a class path" in err
    assert "--plugin subprocess:Popen" in err
    with pytest.raises(RunFolderError, match="strategy"):
        Predictor.from_run(folder)
    assert not marker.exists()


def test_an_upstream_class_path_is_imported_only_when_allowed(folder, clips, capsys):
    edit_spec(folder, upstream="this:x")
    record_model_files(folder)
    code, out, err = predict(capsys, folder, *clips)
    assert code == 2 and "model.json: \"upstream\": 'this:x' is a class path" in err
    assert "this" not in sys.modules and "Beautiful is better" not in out
    # The user may allow a class path explicitly: here the class of a registered upstream.
    edit_spec(folder, upstream="emotransfer.features.logmel:LogMel")
    record_model_files(folder)
    assert predict(capsys, folder, *clips)[0] == 2
    plugin = ["--plugin", "emotransfer.features.logmel:LogMel"]
    code, out, _ = predict(capsys, folder, *plugin, *clips)
    assert code == 0 and len(out.splitlines()) == 1 + len(clips)


def test_trust_remote_code_is_never_taken_from_the_run_folder(folder, clips, tmp_path, capsys):
    marker = tmp_path / "marker"
    custom = tmp_path / "custom_model"
    custom.mkdir()
    (custom / "config.json").write_text(json.dumps({"model_type": "evil", "auto_map": {
        "AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}}))  # fmt: skip
    (custom / "evil.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    edit_spec(folder, upstream="hf", params={"model": str(custom), "trust_remote_code": True})
    record_model_files(folder)
    assert Predictor.from_run(folder).upstream.trust_remote_code is False
    assert Predictor.from_run(folder, trust_remote_code=True).upstream.trust_remote_code is True
    code, _, err = predict(capsys, folder, *clips)
    assert code == 2 and "emotransfer: error:" in err and "trust_remote_code" in err
    assert not marker.exists()


@pytest.mark.parametrize("edit, named", [
    ("reordered classes", "model.json changed since the run wrote it"),
    ("normalization none", "model.json changed since the run wrote it"),
    ("zeroed scaler", "models/speaker=s02/head.safetensors changed since the run wrote it"),
    ("deleted fold", "4 fold models expected, 3 found: models/speaker=s03 missing"),
])  # fmt: skip
def test_silent_edits_are_refused_naming_the_file(folder, clips, capsys, edit, named):
    spec = json.loads((folder / "model.json").read_text())
    if edit == "reordered classes":
        edit_spec(folder, classes=spec["classes"][::-1])
    elif edit == "normalization none":
        edit_spec(folder, normalization="none")
    elif edit == "zeroed scaler":
        path = folder / "models" / "speaker=s02" / "head.safetensors"
        arrays = load_file(str(path))
        arrays["scaler.scale"] = np.zeros_like(arrays["scaler.scale"])
        save_file(arrays, str(path))
    else:
        shutil.rmtree(folder / "models" / "speaker=s03")
    code, out, err = predict(capsys, folder, *clips)
    assert code == 2 and out == "" and f"emotransfer: error: {folder}" in err and named in err


def test_a_format_1_folder_without_files_json_loads_with_a_warning(folder, clips, caplog):
    spec = json.loads((folder / "model.json").read_text())
    for key in ("format", "folds"):  # as frozen runs wrote model.json before format 2
        del spec[key]
    (folder / "model.json").write_text(json.dumps(spec))
    (folder / "files.json").unlink()
    assert len(Predictor.from_run(folder).predict_files(clips)) == len(clips)
    assert "no files.json" in caplog.text and "format 1" in caplog.text


def test_a_format_2_folder_without_files_json_is_refused(folder, clips, capsys):
    (folder / "files.json").unlink()  # then an edit would go unnoticed: refused instead
    edit_spec(folder, classes=["sadness", "neutral", "happiness", "anger"])
    code, out, err = predict(capsys, folder, *clips)
    assert code == 2 and out == ""
    assert "files.json is missing, but model.json is of format 2" in err and "--force" in err


def test_an_unfinished_run_is_named_unfinished(folder, clips, capsys):
    for name in ("files.json", "metrics.json"):  # killed after its first of four folds
        (folder / name).unlink()
    for fold in ("speaker=s02", "speaker=s03", "speaker=s04"):
        shutil.rmtree(folder / "models" / fold)
    code, out, err = predict(capsys, folder, *clips)
    assert code == 2 and out == ""
    assert "an unfinished run (1 of 4 fold models trained" in err
    assert f"emotransfer run {folder / 'config.yaml'} --resume --run-dir {folder}" in err


def test_fewer_fold_models_than_model_json_plans_are_refused(folder, clips):
    shutil.rmtree(folder / "models" / "speaker=s04")
    record_model_files(folder)  # a record made to match the folder, not the run
    with pytest.raises(RunFolderError, match="model.json plans 4 fold models, files.json "
                       "records 3; metrics.json reports 4 folds"):  # fmt: skip
        Predictor.from_run(folder)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-40])


@pytest.mark.parametrize("edit, named", [
    ({"layer": 99}, 'model.json: "layer": 99 is out of range: the upstream gives 1 hidden'),
    ({"classes": ["anger", "happiness", "neutral"]}, 'model.json: "classes" lists 3 classes'),
    ({"classes": ["anger", "happiness", "neutral", "sadness", "fear"]},
     'model.json: "classes" lists 5 classes, but the fold heads have outputs for 4'),
    ({"pooling": "median"}, 'model.json: "pooling": must be one of'),
    ("not json", "model.json: not a JSON model description"),
    ("truncated", "models/speaker=s01/head.safetensors: not a readable safetensors file"),
    ("empty", "models/speaker=s04/head.safetensors: not a readable safetensors file"),
])  # fmt: skip
def test_malformed_run_files_give_clear_errors(folder, clips, capsys, edit, named):
    if isinstance(edit, dict):
        edit_spec(folder, **edit)
    elif edit == "not json":
        (folder / "model.json").write_text('{"kind": "frozen", "classes": [')
    elif edit == "truncated":
        _truncate(folder / "models" / "speaker=s01" / "head.safetensors")
    else:
        (folder / "models" / "speaker=s04" / "head.safetensors").write_bytes(b"")
    record_model_files(folder)  # digests that match the edit: the file checks must find it
    code, out, err = predict(capsys, folder, *clips)
    assert code == 2 and out == "" and err.startswith("emotransfer: error:") and named in err


def test_predict_prints_the_good_files_and_lists_the_bad_ones(folder, clips, tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    long_clip = tmp_path / "long.wav"  # longer than the run's clips (2.6 s), not than 600 s
    soundfile.write(long_clip, 0.1 * np.sin(np.arange(48000) / 5.0), 16000)
    code, out, err = predict(capsys, folder, clips[0], broken, *clips[1:], long_clip)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "file,predicted,anger,happiness,neutral,sadness"
    classes = lines[0].split(",")[2:]
    for line in lines[1:]:  # the predicted label is the most probable class
        _, predicted, *values = line.split(",")
        assert predicted == classes[int(np.argmax(np.float64(values)))]
    assert [line.split(",")[0] for line in lines[1:]] == clips
    assert f"emotransfer: {broken}: cannot decode audio" in err
    assert f"emotransfer: {long_clip}: too long: 3.0 s > max_duration 2.6 s" in err
    results, problems = Predictor.from_run(folder).predict_paths([*clips, broken])
    assert [r is None for r in results] == [False] * len(clips) + [True]
    assert [p["file"] for p in problems] == [str(broken)]
    assert predict(capsys, folder, *clips)[0] == 0


def test_a_fold_that_lacked_a_class_predicts_in_the_run_columns(folder, clips):
    # A fold whose training clips had no anger (runs now refuse such splits, older ones
    # did not): its logreg head has outputs for classes 1..3 only.
    from emotransfer.models.export import export_head
    from emotransfer.models.heads import LogisticRegressionHead

    path = folder / "models" / "speaker=s01" / "head.safetensors"
    arrays = load_file(str(path))
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, len(arrays["scaler.mean"]))), 1 + np.arange(60) % 3
    head = LogisticRegressionHead(C=1.0).fit(features, labels)
    arrays.update({f"head.{k}": np.ascontiguousarray(v) for k, v in export_head(head).items()})
    save_file(arrays, str(path))
    record_model_files(folder)
    predictor = Predictor.from_run(folder)
    assert predictor.scorer.heads[0][2].class_indices().tolist() == [1, 2, 3]
    outputs = predictor.predict_files(clips)
    assert all(abs(sum(p.values()) - 1) < 1e-6 for p in outputs)
    assert set(outputs[0]) == {"anger", "happiness", "neutral", "sadness"}
    # that fold gives anger 0, so anger gets at most 3/4 of the probability
    assert max(p["anger"] for p in outputs) <= 0.75 + 1e-9


def test_read_model_spec_checks_keys_and_components(folder):
    spec = read_model_spec(folder)
    assert spec.audio == {"sample_rate": 16000, "min_duration": 0.1, "max_duration": 2.6}
    assert "trust_remote_code" not in spec.params  # logmel takes no such parameter
    edit_spec(folder, upstream="word2vec")
    with pytest.raises(RunFolderError, match="unknown upstream 'word2vec'; registered"):
        read_model_spec(folder)
    edit_spec(folder, upstream="logmel", kind="pickle")
    with pytest.raises(RunFolderError, match='"kind"'):
        read_model_spec(folder)


def test_a_refit_run_serves_one_model_and_predicts_a_single_clip(
    tmp_path, synthetic_root, synthetic_table, capsys
):  # fmt: skip
    corpora = (f"[{{name: synthetic, root: {synthetic_root}, "
               "params: {num_speakers: 4, utterances_per_emotion: 4}}]")  # fmt: skip
    config = frozen_config(tmp_path, corpora, "features.normalization=global")
    result = run(config, progress=False)
    folder = result.run_dir
    assert result.metrics["refit"]["n_train"] == len(synthetic_table)
    assert "refit/head.safetensors" in json.loads((folder / "files.json").read_text())["files"]
    refit = Predictor.from_run(folder)
    ensemble = Predictor.from_run(folder, folds=True)
    assert len(refit.scorer.heads) == 1 and len(ensemble.scorer.heads) == 4
    clip = synthetic_table["file"].iloc[0]
    alone = refit.predict_file(clip)  # one clip, nothing else in the call
    together = refit.predict_files([clip, *synthetic_table["file"].iloc[1:5]])[0]
    assert alone == pytest.approx(together) and abs(sum(alone.values()) - 1) < 1e-6
    truth = synthetic_table["emotion"].iloc[:16].tolist()
    guesses = [max(p, key=p.get) for p in refit.predict_files(synthetic_table["file"][:16])]
    assert np.mean(np.array(guesses) == np.array(truth)) >= 0.75  # clips it was fitted on
    code, out, _ = predict(capsys, folder, "--folds", clip)
    assert code == 0 and out.splitlines()[1].startswith(f"{clip},")
    _truncate(folder / "refit" / "head.safetensors")
    with pytest.raises(RunFolderError, match="refit/head.safetensors changed"):
        Predictor.from_run(folder)


def test_architecture_parts_are_read_only_from_a_trained_runs_model_json(folder, clips):
    edit_spec(folder, architecture_params="body")  # not a key of a frozen run: ignored
    record_model_files(folder)
    assert len(Predictor.from_run(folder).predict_files(clips)) == len(clips)


def test_declared_speakers_are_normalised_apart_and_undeclared_ones_are_said(
    frozen_run, synthetic_table, capsys
):  # fmt: skip
    from emotransfer.inference import Predictor

    first = synthetic_table.loc[synthetic_table["speaker"] == "s01", "file"].tolist()[:3]
    second = synthetic_table.loc[synthetic_table["speaker"] == "s02", "file"].tolist()[:3]
    files = [first[0], second[0], first[1], second[1], first[2], second[2]]
    code, out, err = predict(capsys, frozen_run, *files, *["--speaker", "a", "--speaker", "b"] * 3)
    assert code == 0 and "as one speaker" not in err
    predictor = Predictor.from_run(frozen_run)
    alone = predictor.predict_files(first, speakers=["a"] * 3) + predictor.predict_files(
        second, speakers=["b"] * 3)  # fmt: skip
    expected = {path: p for path, p in zip(first + second, alone)}
    for line in out.splitlines()[1:]:
        path, _, *probabilities = line.split(",")
        assert [float(v) for v in probabilities] == pytest.approx(
            [expected[path][c] for c in predictor.classes], abs=1e-4)  # fmt: skip
    code, out, err = predict(capsys, frozen_run, *files)  # each on its own
    assert code == 0 and "training speakers' average statistics" in err
    assert out.splitlines()[1].split(",")[2:] == predict(capsys, frozen_run, files[0])[1] \
        .splitlines()[1].split(",")[2:]  # fmt: skip
    code, _, err = predict(capsys, frozen_run, *files, "--speaker", "a", "--speaker", "b")
    assert code == 2 and "2 --speaker for 6 files" in err
