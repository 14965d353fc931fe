import json

import numpy as np
import pandas as pd
import pytest
import torch

from emotransfer.cli import main
from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor


def finetune_config(tmp_path, root, model, *overrides):
    return load_config(None, overrides=[
        "name=ft", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "data.labels.classes=[anger, sadness]",
        "features.upstream=hf", f"features.params={{model: {model}}}",
        "finetune={strategy: lora, params: {rank: 2}, epochs: 2, batch_size: 8, "
        "learning_rate: 0.01, validation_folds: 3}",
        "evaluation.bootstrap=50", *overrides,
    ])  # fmt: skip


def test_lora_run_writes_fold_models_and_predicts_new_audio(
    tmp_path, synthetic_root, synthetic_table, tiny_whisper
):
    result = run(finetune_config(tmp_path, synthetic_root, tiny_whisper), progress=False)
    folder = result.run_dir
    assert len(list((folder / "models").glob("*/trainable.safetensors"))) == 4
    assert json.loads((folder / "model.json").read_text())["strategy"] == "lora"
    predictions = pd.read_csv(folder / "predictions.csv")
    assert len(predictions) == 32 and {"prob_anger", "prob_sadness"} <= set(predictions.columns)
    assert result.metrics["finetune"]["strategy"] == "lora"
    predictor = Predictor.from_run(folder)
    clip = synthetic_table["file"].iloc[0]
    probabilities = predictor.predict_file(clip)
    assert set(probabilities) == {"anger", "sadness"}
    assert abs(sum(probabilities.values()) - 1) < 1e-5
    assert main(["predict", str(folder), clip]) == 0


def test_two_stage_transfer_starts_stage_two_from_the_source_model(tmp_path, synthetic_root,
                                                                   tiny_whisper):  # fmt: skip
    source = f"[{{name: synthetic, root: {synthetic_root}, params: {{num_speakers: 4, " \
             "utterances_per_emotion: 4}}]"  # fmt: skip
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=two_stage",
                             f"finetune.source={source}", "finetune.source_epochs=1",
                             "finetune.epochs=1", "finetune.source_target=speaker")  # fmt: skip
    result = run(config, progress=False)
    encoder = result.run_dir / "source" / "encoder.safetensors"
    assert encoder.is_file()
    assert Predictor.from_run(result.run_dir).predict_signal(np.zeros(8000) + 0.01)
    # The stage-1 encoder is a model folder that any experiment can use as an upstream.
    from safetensors.torch import load_file

    from emotransfer.encoders.hf_audio import HFAudioEncoder
    from emotransfer.features.hf import HFEncoder

    wave = (0.1 * np.sin(np.arange(16000) / 7.0)).astype(np.float32)
    exported = HFEncoder(
        model=str(result.run_dir / "source" / "encoder"), whisper_input="real_length"
    ).extract(wave)
    trained = HFAudioEncoder(model=tiny_whisper, whisper_input="real_length")
    trained.load_state_dict(load_file(str(encoder)))
    with torch.no_grad():
        states = trained(trained.prepare([wave])).states
    assert not np.allclose(exported, HFEncoder(model=tiny_whisper).extract(wave))
    np.testing.assert_allclose(exported, states[0].numpy(), atol=1e-4)


def test_exported_fold_encoder_is_the_merged_lora_encoder(tmp_path, synthetic_root,
                                                           tiny_whisper):  # fmt: skip
    from emotransfer.features.hf import HFEncoder

    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=export",
                             "split.only_folds=[speaker=s01]", "finetune.epochs=1",
                             "finetune.export_encoder=true")  # fmt: skip
    result = run(config, progress=False)
    folder = next((result.run_dir / "models").glob("*/encoder"))
    wave = (0.1 * np.sin(np.arange(16000) / 7.0)).astype(np.float32)
    exported = HFEncoder(model=str(folder), whisper_input="real_length").extract(wave)
    original = HFEncoder(model=tiny_whisper, whisper_input="real_length").extract(wave)
    # The fold model (adapters unmerged) computes the same hidden states as the export.
    encoder = Predictor.from_run(result.run_dir, folds=True).scorer.models[0].encoders["audio"]
    with torch.no_grad():
        states = encoder(encoder.prepare([wave])).states
    np.testing.assert_allclose(exported, states[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(exported[0], original[0], atol=1e-6)  # embedding: no LoRA
    assert not np.allclose(exported[-1], original[-1], atol=1e-4)


def test_adapters_cannot_export_a_plain_encoder(tmp_path, synthetic_root, tiny_whisper):
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "finetune.strategy=adapters",
                             "finetune.params={}", "finetune.export_encoder=true")  # fmt: skip
    with pytest.raises(ValueError, match="export_encoder"):
        run(config, progress=False)


def test_predictor_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.json"):
        Predictor.from_run(tmp_path)


def test_analyze_adaptation_measures_which_layers_changed(tmp_path, synthetic_root, tiny_whisper):
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=adapt",
                             "finetune.strategy=full", "finetune.params={}")  # fmt: skip
    result = run(config, progress=False)
    assert main(["analyze", "adaptation", str(result.run_dir), "--max-files", "6"]) == 0
    report = json.loads((result.run_dir / "adaptation" / "adaptation.json").read_text())
    layers = report["layers"]
    assert [row["layer"] for row in layers] == [0, 1, 2]
    assert all(0.0 <= row["cka"] <= 1.0 + 1e-6 for row in layers)
    assert any(row["weight_change"] and row["weight_change"] > 0 for row in layers)
    assert (result.run_dir / "adaptation" / "adaptation.png").is_file()


def test_adaptation_of_stage_two_only_against_the_source_encoder(tmp_path, synthetic_root,
                                                                 tiny_whisper):  # fmt: skip
    from emotransfer.analysis.adaptation_study import run_adaptation

    # Disjoint speakers: stage 1 on s01/s02, stage 2 (LOSO) on s03/s04.
    source = (f"[{{name: synthetic, root: {synthetic_root}, speakers: [s01, s02], params: "
              "{num_speakers: 4, utterances_per_emotion: 4}}]")  # fmt: skip
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=stages",
                             "data.corpora.0.exclude_speakers=[s01, s02]",
                             f"finetune.source={source}", "finetune.source_epochs=1",
                             "finetune.epochs=1", "finetune.strategy=full",
                             "finetune.params={}")  # fmt: skip
    result = run(config, progress=False)
    assert len(list((result.run_dir / "models").glob("*/trainable.safetensors"))) == 2
    _, total = run_adaptation(result.run_dir, max_files=4)
    _, stage_two = run_adaptation(result.run_dir, max_files=4, reference="source")
    assert stage_two["reference"] == "source"

    def changed(report):
        return sum(row["weight_change"] or 0.0 for row in report["layers"])

    assert 0 < changed(stage_two) < changed(total)
    single = run(finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=single",
                                 "split.only_folds=[speaker=s01]", "finetune.epochs=1"),
                 progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="two-stage"):
        run_adaptation(single.run_dir, max_files=2, reference="source")


def test_augmentation_and_test_corruption_in_finetuning(tmp_path, synthetic_root, tiny_whisper):
    config = finetune_config(
        tmp_path, synthetic_root, tiny_whisper, "name=aug", "finetune.epochs=1",
        "finetune.augment={name: noise, snr_db: [5, 20]}",
        "data.test_corruption={name: codec, format: mp3, bitrate: 16000}",
    )  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["finetune"]["augment"]["name"] == "noise"
    assert len(pd.read_csv(result.run_dir / "predictions.csv")) == 32


def test_pretrain_exports_a_self_pretrained_upstream(tmp_path, synthetic_root, tiny_whisper):
    import warnings

    from emotransfer.experiment import pretrain
    from emotransfer.features.hf import HFEncoder

    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=speaker_id",
                             "finetune.strategy=full", "finetune.source_strategy=full",
                             "finetune.source_target=speaker", "finetune.source_epochs=1",
                             "finetune.random_init=true")  # fmt: skip
    folder = pretrain(config, progress=False)
    assert (folder / "config.json").is_file()
    assert (folder.parents[1] / "config.yaml").is_file()  # resolved config beside it
    wave = (0.1 * np.sin(np.arange(16000) / 7.0)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight comes from the export
        trained = HFEncoder(model=str(folder), whisper_input="real_length").extract(wave)
    start = HFEncoder(model=tiny_whisper, whisper_input="real_length", random_init=True)
    pretrained = HFEncoder(model=tiny_whisper, whisper_input="real_length")
    assert not np.allclose(trained[-1], start.extract(wave)[-1], atol=1e-4)
    assert not np.allclose(trained[-1], pretrained.extract(wave)[-1], atol=1e-4)
    # The command line does the same and says where the folder is.
    corpora = f"data.corpora={[config.data.corpora[0].model_dump()]}"
    assert main(["pretrain", "/dev/null", "--quiet", "-o", "name=cli", "-o",
                 f"output_dir={tmp_path}", "-o", corpora,
                 "-o", "features.upstream=hf", "-o", f"features.params={{model: {tiny_whisper}}}",
                 "-o", "finetune={source_target: gender, source_epochs: 1}"]) == 0  # fmt: skip
    assert (tmp_path / "cli" / "source" / "encoder" / "config.json").is_file()


def test_pretrain_refuses_a_target_with_one_value(tmp_path, synthetic_root, tiny_whisper):
    from emotransfer.experiment import pretrain

    config = finetune_config(tmp_path, synthetic_root, tiny_whisper,
                             "finetune.source_target=corpus")  # fmt: skip
    with pytest.raises(ValueError, match="one value only"):
        pretrain(config, progress=False)


def test_speaker_normalised_finetuning_run_and_its_predictor(
    tmp_path, synthetic_root, synthetic_table, tiny_whisper
):
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=spk",
                             "split.only_folds=[speaker=s01]", "finetune.epochs=1",
                             "finetune.normalization=speaker")  # fmt: skip
    result = run(config, progress=False)
    assert json.loads((result.run_dir / "model.json").read_text())["speaker_norm"] is True
    predictor = Predictor.from_run(result.run_dir)
    clips = synthetic_table.loc[synthetic_table["speaker"] == "s01", "file"].tolist()[:4]
    declared = predictor.predict_files(clips, speakers=["s01"] * 4)  # the speaker's own mean
    assert len(declared) == 4 and abs(sum(declared[0].values()) - 1) < 1e-5
    # Undeclared: each clip by the average training speaker the model kept, on its own.
    assert predictor.clip_independent
    alone = [predictor.predict_file(clip) for clip in clips]
    together = predictor.predict_files(clips)
    assert all(abs(a[k] - b[k]) < 1e-6 for a, b in zip(alone, together) for k in a)
    assert declared != together
    assert main(["predict", str(result.run_dir), *clips]) == 0
    # An enrolled speaker: a later single clip reads as it would among the enrolment clips.
    from emotransfer.inference.enrolment import enroll, load_enrolment

    enrolment = tmp_path / "s01.safetensors"
    assert main(["enroll", str(result.run_dir), *clips[:3], "--out", str(enrolment)]) == 0
    enrolled = load_enrolment(enrolment, result.run_dir)
    assert enrolled[0].shape == (1, 32)  # one served model (the refit), 32 fused values
    single = predictor.predict_files([clips[0]], enrolled=enrolled)[0]
    among = predictor.predict_files(clips[:3], speakers=["s01"] * 3)[0]
    assert all(abs(single[k] - among[k]) < 1e-5 for k in single)
    np.testing.assert_allclose(enroll(predictor, [predictor.load(c) for c in clips[:3]])[0],
                               enrolled[0], atol=1e-6)  # fmt: skip
    assert main(["predict", str(result.run_dir), clips[0], "--enrolled", str(enrolment)]) == 0
    # A model without a kept average (a run from before) takes a call's clips as one speaker.
    for model in predictor.scorer.models:
        model.average_speaker.fill_(float("nan"))
    assert not predictor.clip_independent
    with pytest.raises(ValueError, match="several clips of the same speaker"):
        predictor.predict_file(clips[0])


def tone_music_corpus(root, count=16):
    """A tiny music set in the csv layout: quadrant q1..q4 set by tempo and pitch register."""
    import soundfile as sf

    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(3)
    rows = ["file,corpus,speaker,emotion"]
    for i in range(count):
        quadrant = i % 4
        beat = (4.0, 4.0, 1.5, 1.5)[quadrant]  # arousal: fast vs slow pulses
        pitch = (880.0, 220.0, 220.0, 880.0)[quadrant] * rng.uniform(0.95, 1.05)
        t = np.arange(16000) / 16000
        wave = 0.3 * np.sin(2 * np.pi * pitch * t) * (0.5 + 0.5 * np.sin(2 * np.pi * beat * t))
        sf.write(root / "audio" / f"song{i}.flac", wave.astype(np.float32), 16000)
        rows.append(f"audio/song{i}.flac,tones,artist{i // 4},q{quadrant + 1}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("direction", ["music_to_speech", "speech_to_music"])
def test_two_stage_transfer_between_music_and_speech(tmp_path, synthetic_root, tiny_whisper,
                                                     direction):  # fmt: skip
    music = tone_music_corpus(tmp_path / "music")
    speech = (f"{{name: synthetic, root: {synthetic_root}, params: {{num_speakers: 4, "
              "utterances_per_emotion: 4}}")  # fmt: skip
    songs = f"{{name: csv, root: {music}}}"
    source, target = (songs, speech) if direction == "music_to_speech" else (speech, songs)
    classes = "[anger, sadness]" if direction == "music_to_speech" else "[]"
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, f"name={direction}",
                             f"data.corpora=[{target}]", f"data.labels.classes={classes}",
                             f"finetune.source=[{source}]", "finetune.source_epochs=1",
                             "finetune.epochs=1", "split.kind=speaker_kfold",
                             "split.folds=2")  # fmt: skip
    result = run(config, progress=False)
    assert (result.run_dir / "source" / "encoder" / "config.json").is_file()
    domains = set(pd.read_csv(result.run_dir / "predictions.csv")["file"].map(
        lambda f: "music" if "song" in f else "speech"))  # fmt: skip
    assert domains == {"speech" if direction == "music_to_speech" else "music"}
    expected = 2 if direction == "music_to_speech" else 4
    assert len(result.metrics["classes"]) == expected


def test_without_validation_speakers_every_training_speaker_trains_for_all_epochs(
    tmp_path, synthetic_root, tiny_whisper
):
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=noval",
                             "split.only_folds=[speaker=s01]", "finetune.epochs=2",
                             "finetune.validation_folds=0")  # fmt: skip
    result = run(config, progress=False)
    history = json.loads(next((result.run_dir / "models").glob("*/history.json")).read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert all("valid_uar" not in row for row in history)


def test_two_stage_reuses_stage_one_only_on_the_same_source_data(
    tmp_path, synthetic_table, synthetic_root, tiny_whisper
):
    import shutil

    from emotransfer.experiment import RunFolderError

    source_root = tmp_path / "source_corpus"
    (source_root / "audio").mkdir(parents=True)
    rows = synthetic_table[synthetic_table["speaker"].isin(["s01", "s02"])].copy()
    for path in rows["file"]:
        shutil.copy(path, source_root / "audio")
    rows["file"] = "audio/" + rows["file"].map(lambda f: f.rsplit("/", 1)[1])
    rows.to_csv(source_root / "metadata.csv", index=False)
    config = finetune_config(tmp_path, synthetic_root, tiny_whisper, "name=two_stage_check",
                             f"finetune.source=[{{name: csv, root: {source_root}}}]",
                             "finetune.source_epochs=1", "finetune.epochs=1",
                             "finetune.source_target=speaker",
                             "split.only_folds=[speaker=s03]")  # fmt: skip
    folder = run(config, progress=False).run_dir
    trained = (folder / "source" / "encoder.safetensors").read_bytes()
    rows.loc[rows.index[0], "speaker"] = "s02"  # one source row relabelled
    rows.to_csv(source_root / "metadata.csv", index=False)
    with pytest.raises(RunFolderError, match="stage 1 was trained on other source data: the "
                                             "label of 1 row"):  # fmt: skip
        run(config, progress=False)
    assert (folder / "source" / "encoder.safetensors").read_bytes() == trained
    run(config, progress=False, force=True)
    assert (folder / "source" / "inputs.json").is_file()


def test_a_trained_run_learns_the_dimensions_and_predicts_them(
    tmp_path, synthetic_root, synthetic_table
):
    config = load_config(None, overrides=[
        "name=dims", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "data.labels.classes=[anger, sadness, happiness, neutral]", "features.upstream=logmel",
        "finetune={strategy: full, epochs: 8, batch_size: 8, learning_rate: 0.01, "
        "validation_folds: 0}", "evaluation.dimensions=[arousal, valence]",
        "evaluation.bootstrap=50",
    ])  # fmt: skip
    result = run(config, progress=False)
    dimensional = result.metrics["dimensional"]
    assert set(dimensional) == {"arousal", "valence"}
    for report in dimensional.values():
        assert report["n"] == 64 and report["model"] == "dimensional head (joint)"
    assert dimensional["arousal"]["ccc"]["value"] > 0.5  # anger/happiness aroused
    predictions = pd.read_csv(result.run_dir / "predictions.csv")
    assert predictions[["pred_arousal", "pred_valence"]].notna().all().all()
    predictor = Predictor.from_run(result.run_dir)
    assert predictor.dimensions == ("arousal", "valence")
    clips = synthetic_table["file"].iloc[:2].tolist()
    rows = predictor.predict_files(clips, values=True)
    assert set(rows[0]) == {"anger", "happiness", "neutral", "sadness", "arousal", "valence"}
    assert abs(sum(rows[0][c] for c in ("anger", "happiness", "neutral", "sadness")) - 1) < 1e-5
    # the HTTP service answers with the values too
    from fastapi.testclient import TestClient

    from emotransfer.serving.app import create_app

    client = TestClient(create_app([result.run_dir]))
    assert client.get("/runs").json()[0]["dimensions"] == ["arousal", "valence"]
    with open(clips[0], "rb") as handle:
        answer = client.post("/predict", files={"file": ("a.wav", handle.read())}).json()
    assert set(answer["values"]) == {"arousal", "valence"}
    assert answer["values"]["arousal"] == pytest.approx(rows[0]["arousal"], abs=1e-5)
    assert set(answer["probabilities"]) == {"anger", "happiness", "neutral", "sadness"}


def test_a_run_streaming_its_audio_from_the_files_predicts_what_one_in_memory_does(
    tmp_path, synthetic_root, tiny_whisper
):
    predictions = {}
    for stream in ("false", "true"):
        config = finetune_config(tmp_path, synthetic_root, tiny_whisper, f"name=stream_{stream}",
                                 "split.only_folds=[speaker=s01]", "finetune.validation_folds=0",
                                 "finetune.refit=false", f"finetune.stream_audio={stream}",
                                 "finetune.loader_workers=1")  # fmt: skip
        result = run(config, progress=False)
        predictions[stream] = pd.read_csv(result.run_dir / "predictions.csv")
    assert len(predictions["true"]) == 8
    pd.testing.assert_frame_equal(predictions["true"], predictions["false"])
