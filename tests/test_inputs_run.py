"""A model of two inputs (audio and the manifest's text) through `run`, one Predictor."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile
from tests.tiny_models import TINY_BERT_WORDS

from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor

WORDS = {"anger": TINY_BERT_WORDS[:3], "sadness": TINY_BERT_WORDS[3:6]}


def noise_corpus(root, seed, other):
    """Four speakers x 8 clips of one noise level, anger and sadness alternating, so the audio
    tells the classes nothing; ``other(name, emotion, number, rng)`` gives each row's columns
    of the other input (called after the clip is written, from the same generator)."""
    (root / "audio").mkdir()
    rng = np.random.default_rng(seed)
    rows = []
    for speaker in ("s1", "s2", "s3", "s4"):
        for number in range(8):
            emotion = ["anger", "sadness"][number % 2]
            name = f"{speaker}_{number}"
            soundfile.write(root / "audio" / f"{name}.wav", 0.1 * rng.normal(size=8000), 16000)
            rows.append({"file": f"audio/{name}.wav", "speaker": speaker, "emotion": emotion,
                         **other(name, emotion, number, rng)})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


@pytest.fixture(scope="module")
def spoken_words(tmp_path_factory):
    """Only the transcript tells the classes apart."""

    def transcript(name, emotion, number, rng):
        return {"text": WORDS[emotion][number % 3]}

    return noise_corpus(tmp_path_factory.mktemp("spoken_words"), 0, transcript)


def config_of(tmp_path, root, model, *overrides):
    return load_config(None, overrides=[
        "name=mm", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]",
        f"inputs={{audio: {{upstream: logmel}}, text: {{upstream: hf_text, "
        f"params: {{model: {model}}}}}}}", "model.fusion=concat",
        "finetune={strategy: full, epochs: 12, batch_size: 8, learning_rate: 0.01, "
        "validation_folds: 0}", "evaluation.bootstrap=20",
        "split.only_folds=[speaker=s1]",  # one held-out speaker (8 clips) and the refit
        *overrides,
    ])  # fmt: skip


def test_audio_and_text_train_through_run_and_predict_through_the_predictor(
    tmp_path, spoken_words, tiny_bert
):
    result = run(config_of(tmp_path, spoken_words, tiny_bert), progress=False)
    assert result.metrics["summary"]["uar"]["value"] > 0.9  # the words are the only cue
    spec = json.loads((result.run_dir / "model.json").read_text())
    assert spec["inputs"] == {"text": {"encoder": "hf_text", "params": {"model": tiny_bert},
                                       "column": "text"}}  # fmt: skip
    predictor = Predictor.from_run(result.run_dir)
    assert predictor.inputs == ("text",)
    clip = str(spoken_words / "audio" / "s1_0.wav")
    assert max(predictor.predict_file(clip, text="livid").items(), key=lambda kv: kv[1])[0] \
        == "anger"  # fmt: skip
    guesses = predictor.predict_files([clip, clip], {"text": ["gloomy", "furious"]})
    assert [max(g, key=g.get) for g in guesses] == ["sadness", "anger"]
    with pytest.raises(ValueError, match="takes audio, text: give inputs="):
        predictor.predict_file(clip)
    with pytest.raises(ValueError, match="1 items for 2 clips"):
        predictor.predict_files([clip, clip], {"text": ["calm"]})


def test_predict_on_the_command_line_takes_one_text_per_file(tmp_path, spoken_words, tiny_bert,
                                                            capsys):  # fmt: skip
    from emotransfer.cli import main

    folder = run(config_of(tmp_path, spoken_words, tiny_bert), progress=False).run_dir
    clip = str(spoken_words / "audio" / "s1_0.wav")
    missing = str(tmp_path / "gone.wav")  # a bad file drops its text, not its neighbour's
    status = main(["predict", str(folder), clip, missing, clip,
                   "--text", "gloomy", "--text", "livid", "--text", "furious"])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1 and "gone.wav" in err, err
    assert [line.split(",")[1] for line in out.splitlines()[1:]] == ["sadness", "anger"]
    assert main(["predict", str(folder), clip]) == 2
    assert "takes audio, text: give inputs=" in capsys.readouterr().err
    assert main(["predict", str(folder), clip, clip, "--text", "calm"]) == 2
    assert "1 text items for 2 files" in capsys.readouterr().err


@pytest.mark.parametrize("fusion", [
    ["model.fusion=attention"],
    ["model.fusion=hopping", "model.params={fusion_params: {size: 16, hops: 2}}"],
    ["model.fusion=key_sparse", "model.params={fusion_params: {width: 16, heads: 2, top_k: 4}}"],
    # LEAF + BERT with a transformer fusion: the learnable front end beside the text encoder
    ["model.encoder=leaf", "model.encoder_params={num_filters: 16}", "model.fusion=key_sparse",
     "model.params={fusion_params: {width: 16, heads: 2, top_k: 4}}"],
])  # fmt: skip
def test_frame_level_fusions_train_audio_and_text_through_run(tmp_path, spoken_words, tiny_bert,
                                                              fusion):  # fmt: skip
    result = run(config_of(tmp_path, spoken_words, tiny_bert, *fusion), progress=False)
    assert result.metrics["summary"]["uar"]["value"] > 0.9  # the words are the only cue
    predictor = Predictor.from_run(result.run_dir)
    clip = str(spoken_words / "audio" / "s1_0.wav")
    guesses = predictor.predict_files([clip, clip], {"text": ["gloomy", "furious"]})
    assert [max(g, key=g.get) for g in guesses] == ["sadness", "anger"]


def test_a_frozen_text_encoder_is_built_once_for_all_fold_models(tmp_path, spoken_words, tiny_bert):
    two = "split.only_folds=[speaker=s1, speaker=s2]"
    config = config_of(tmp_path, spoken_words, tiny_bert, "finetune.strategy=frozen",
                       "finetune.epochs=2", two)  # fmt: skip
    folder = run(config, progress=False).run_dir
    models = Predictor.from_run(folder, folds=True).scorer.models
    assert len(models) == 2
    assert models[0].encoders["text"] is models[1].encoders["text"]
    trained = run(config_of(tmp_path / "full", spoken_words, tiny_bert, "finetune.epochs=1",
                            two), progress=False)  # fmt: skip
    models = Predictor.from_run(trained.run_dir, folds=True).scorer.models
    assert models[0].encoders["text"] is not models[1].encoders["text"]  # each fold's own


def test_a_missing_text_column_is_named_before_anything_is_written(
    tmp_path, spoken_words, tiny_bert
):
    config = config_of(tmp_path, spoken_words, tiny_bert,
                       "inputs.text.column=transcript")  # fmt: skip
    with pytest.raises(ValueError, match="inputs.text: the manifest has no column 'transcript'"):
        run(config, progress=False)
    assert not (tmp_path / "mm" / "config.yaml").exists()


def test_other_inputs_need_a_trained_model_and_an_encoder_of_their_modality(
    tmp_path, spoken_words, tiny_bert
):
    with pytest.raises(ValueError, match="frozen-feature run takes audio, text, or both"):
        load_config(None, overrides=["inputs={audio: {upstream: egemaps}, video: "
                                     "{upstream: frames}}"])  # fmt: skip
    with pytest.raises(ValueError, match="known modalities are"):
        load_config(None, overrides=["inputs={smell: {upstream: x}}"])
    config = config_of(tmp_path, spoken_words, tiny_bert, "inputs.text.upstream=logmel",
                       "inputs.text.params={}")  # fmt: skip
    with pytest.raises(ValueError, match="encoder 'logmel' takes audio items, not text"):
        run(config, progress=False)


@pytest.fixture(scope="module")
def filmed(tmp_path_factory):
    """Per-frame face features (.npy, (T, 6)) alone tell the classes apart: feature 0 is high
    for anger, low for sadness."""
    root = tmp_path_factory.mktemp("filmed")
    (root / "faces").mkdir()

    def faces(name, emotion, number, rng):
        frames = rng.normal(size=(int(rng.integers(5, 12)), 6)).astype(np.float32)
        frames[:, 0] += 2.0 if emotion == "anger" else -2.0
        np.save(root / "faces" / f"{name}.npy", frames)
        return {"video": f"faces/{name}.npy"}

    return noise_corpus(root, 1, faces)


def video_config(tmp_path, root, *overrides):
    return load_config(None, overrides=[
        "name=av", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]",
        "inputs={audio: {upstream: logmel}, video: {upstream: frames, "
        "params: {hidden_size: 6, frame_rate: 25.0}}}", "model.fusion=concat",
        "finetune={strategy: full, epochs: 12, batch_size: 8, learning_rate: 0.01, "
        "validation_folds: 0}", "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


def test_audio_and_video_features_train_through_run_and_predict(tmp_path, filmed):
    result = run(video_config(tmp_path, filmed), progress=False)
    assert result.metrics["summary"]["uar"]["value"] > 0.9  # the faces are the only cue
    predictor = Predictor.from_run(result.run_dir)
    assert predictor.inputs == ("video",)
    clip = str(filmed / "audio" / "s1_0.wav")
    angry = np.zeros((6, 6), dtype=np.float32)
    angry[:, 0] = 2.0
    guesses = predictor.predict_files([clip, clip], {"video": [angry, -angry]})
    assert [max(g, key=g.get) for g in guesses] == ["anger", "sadness"]
    from_file = predictor.predict_file(clip, video=str(filmed / "faces" / "s2_1.npy"))
    assert max(from_file, key=from_file.get) == "sadness"


def test_a_broken_frame_file_is_named_before_anything_is_written(tmp_path, filmed):
    table = pd.read_csv(filmed / "metadata.csv")
    broken = tmp_path / "broken"
    broken.mkdir()
    table.assign(video=[str(filmed / v) for v in table["video"]],
                 file=[str(filmed / f) for f in table["file"]]).replace(
        {"video": {str(filmed / "faces" / "s3_2.npy"): str(broken / "gone.npy")}}
    ).to_csv(broken / "metadata.csv", index=False)  # fmt: skip
    with pytest.raises(ValueError, match=r"inputs.video: .*gone.npy: no such frame-feature file"):
        run(video_config(tmp_path, broken), progress=False)
    assert not (tmp_path / "av" / "config.yaml").exists()


def test_a_run_transcribes_the_text_it_lacks_and_serves_with_the_same_asr(tmp_path, tiny_bert,
                                                                          tiny_asr):  # fmt: skip
    def half(name, emotion, number, rng):  # the first four clips of a speaker have text
        return {"text": WORDS[emotion][number % 3] if number < 4 else ""}

    (tmp_path / "half").mkdir()
    root = noise_corpus(tmp_path / "half", 3, half)
    asr = f"data.asr={{model: {tiny_asr}, beam_size: 1}}"
    result = run(config_of(tmp_path, root, tiny_bert, asr, "finetune.epochs=1"),
                 progress=False)  # fmt: skip
    transcripts = pd.read_csv(result.run_dir / "transcripts.csv", keep_default_na=False)
    made = transcripts["file"].str.contains("_[4-7].wav", regex=True)
    assert len(transcripts) == 32 and set(transcripts["text"][made]) == {"x"}
    assert set(transcripts["text"][~made]) <= set(TINY_BERT_WORDS[:6])
    assert set(transcripts["language"][made]) == {"en"}
    assert set(transcripts["language"][~made]) == {""}
    assert (
        transcripts["text_source"].tolist()
        == ["given"] * 4
        + ["asr"] * 4
        + ["given"] * 4
        + ["asr"] * 4
        + ["given"] * 4
        + ["asr"] * 4
        + ["given"] * 4
        + ["asr"] * 4
    )
    spec = json.loads((result.run_dir / "model.json").read_text())
    assert spec["asr"] == {"model": tiny_asr, "language": None, "beam_size": 1,
                           "compute_type": "int8", "threads": 2}  # fmt: skip
    predictor = Predictor.from_run(result.run_dir)
    clip = str(root / "audio" / "s1_0.wav")
    assert predictor.transcripts([predictor.load(clip)]) == ["x"]
    said = predictor.predict_file(clip)  # the text is made as in training
    assert said == predictor.predict_file(clip, text="x")
    assert said != predictor.predict_file(clip, text="furious")  # a given text is used


def test_late_fusion_trains_through_run_and_weighs_the_informative_input(tmp_path, filmed):
    result = run(video_config(tmp_path, filmed, "model.fusion=late",
                              "finetune.validation_folds=2", "split.only_folds=[speaker=s1]",
                              "finetune.normalization=global"), progress=False)  # fmt: skip
    assert result.metrics["summary"]["uar"]["value"] > 0.9  # the faces are the only cue
    fold = json.loads(next((result.run_dir / "folds").glob("*.json")).read_text())
    weights = fold["best_params"]["fusion_weights"]  # refitted on the validation speakers
    assert set(weights) == {"audio", "video"} and weights["video"] > 0.8
    predictor = Predictor.from_run(result.run_dir)
    clip = str(filmed / "audio" / "s1_0.wav")
    angry = np.zeros((6, 6), dtype=np.float32)
    angry[:, 0] = 2.0
    guesses = predictor.predict_files([clip, clip], {"video": [angry, -angry]})
    assert [max(g, key=g.get) for g in guesses] == ["anger", "sadness"]


def test_cached_states_cover_the_text_input_too(tmp_path, spoken_words, tiny_bert, monkeypatch):
    from emotransfer.encoders.hf_text import HFTextEncoder

    frozen = ["finetune.strategy=frozen", "finetune.epochs=30"]
    live = run(config_of(tmp_path, spoken_words, tiny_bert, "name=live", *frozen),
               progress=False)  # fmt: skip
    calls = []
    forward = HFTextEncoder.forward
    monkeypatch.setattr(HFTextEncoder, "forward",
                        lambda self, batch: calls.append(len(batch["input_ids"]))
                        or forward(self, batch))  # fmt: skip
    cached = run(config_of(tmp_path, spoken_words, tiny_bert, "name=cached", *frozen,
                           "finetune.cache_states=true"), progress=False)  # fmt: skip
    assert sum(calls) == 32  # each clip's text once, shared by the fold and the refit
    # the same training on states kept in float16: the same decisions
    first, second = (pd.read_csv(r.run_dir / "predictions.csv") for r in (live, cached))
    assert (first["predicted"] == second["predicted"]).all()
    probabilities = [c for c in first.columns if c.startswith("prob_")]
    np.testing.assert_allclose(first[probabilities], second[probabilities], atol=0.02)
    predictor = Predictor.from_run(cached.run_dir)  # the real text encoder serves it
    clip = str(spoken_words / "audio" / "s1_0.wav")
    served = Predictor.from_run(live.run_dir).predict_file(clip, text="livid")
    assert predictor.predict_file(clip, text="livid") == pytest.approx(served, abs=0.02)


def test_a_frozen_run_of_audio_and_text_concatenates_their_features(
    tmp_path, spoken_words, tiny_bert
):
    from emotransfer.run_files import RunFolderError

    def frozen(name, *overrides):
        return run(load_config(None, overrides=[
            f"name={name}", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
            f"data.corpora=[{{name: csv, root: {spoken_words}}}]", "head.name=logreg",
            "head.grid={C: [1.0]}", "evaluation.bootstrap=20", *overrides,
        ]), progress=False).metrics["summary"]["uar"]["value"]  # fmt: skip

    text = (f"inputs={{text: {{upstream: hf_text, params: {{model: {tiny_bert}}}, layer: -1, "
            "pooling: mean}}")  # fmt: skip
    audio_uar = frozen("audio", "features.upstream=logmel")
    text_uar = frozen("text", text)
    fused_uar = frozen("fused", "features.upstream=logmel", text)
    # noise audio 0.47, the words 1.0, both concatenated (144 noise columns beside 16 of
    # words, 24 training clips): the words carry the fused model far above the audio
    assert text_uar == 1.0 and fused_uar >= audio_uar + 0.3
    fused = tmp_path / "fused"
    assert json.loads((fused / "model.json").read_text())["text"]["upstream"] == "hf_text"
    with pytest.raises(RunFolderError, match="predict serves audio runs only"):
        Predictor.from_run(fused)


@pytest.fixture(scope="module")
def some_unsaid(tmp_path_factory):
    """The spoken words, but every fourth clip has no transcript (an empty cell)."""

    def transcript(name, emotion, number, rng):
        return {"text": "" if number % 4 == 3 else WORDS[emotion][number % 3]}

    return noise_corpus(tmp_path_factory.mktemp("some_unsaid"), 0, transcript)


def test_clips_without_text_train_and_predict_with_missing_inputs(tmp_path, some_unsaid,
                                                                  tiny_bert):  # fmt: skip
    with pytest.raises(ValueError, match=r"inputs.text: .*s1_3.wav: column 'text' holds"):
        run(config_of(tmp_path, some_unsaid, tiny_bert), progress=False)
    config = config_of(tmp_path, some_unsaid, tiny_bert, "name=missing",
                       "model.params={modality_dropout: 0.2}")  # fmt: skip
    result = run(config, progress=False)
    predictions = pd.read_csv(result.run_dir / "predictions.csv")
    assert len(predictions) == 8  # the two clips without text are predicted too
    said = predictions[~predictions["file"].str.endswith(("_3.wav", "_7.wav"))]
    assert (said["true"] == said["predicted"]).all()  # the words still decide
    predictor = Predictor.from_run(result.run_dir)
    clip = str(some_unsaid / "audio" / "s1_0.wav")
    without = predictor.predict_file(clip)  # no text: the model's stand-in for it
    assert set(without) == {"anger", "sadness"} and sum(without.values()) == pytest.approx(1)
    assert predictor.predict_file(clip, text=" ") == pytest.approx(without)  # blank = missing
    assert predictor.predict_file(clip, text="livid")["anger"] > 0.5
    from emotransfer.serving.app import ServedRun

    assert ServedRun(result.run_dir).row()["optional"] == ["text"]  # /runs says so
    # states cached once: a clip without text has none, and trains on the stand-in
    cached = run(config_of(tmp_path, some_unsaid, tiny_bert, "name=cached",
                           "model.params={missing_inputs: true}", "finetune.strategy=frozen",
                           "finetune.cache_states=true", "finetune.epochs=1"),
                 progress=False)  # fmt: skip
    assert len(pd.read_csv(cached.run_dir / "predictions.csv")) == 8
