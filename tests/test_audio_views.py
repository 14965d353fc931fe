"""Two views of the same audio (``inputs: {audio: ..., audio_<name>: ...}``): one model, the
views fused by a registered fusion (the attention block of Peng et al. between them), trained
through `run`, served by the Predictor from the clip alone."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile

from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor
from emotransfer.io import RunFolderError

TONES = {"anger": 3000.0, "sadness": 500.0}


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """Four speakers x 6 clips of noise (0.6-1.2 s) with a 0.2 s tone at a random time: the
    tone's pitch tells the class."""
    root = tmp_path_factory.mktemp("tones")
    (root / "audio").mkdir()
    rng = np.random.default_rng(3)
    rows = []
    for speaker in ("s1", "s2", "s3", "s4"):
        for number in range(6):
            emotion = ["anger", "sadness"][number % 2]
            wave = 0.05 * rng.normal(size=int(rng.integers(9600, 19200)))
            start = int(rng.integers(0, len(wave) - 3200))
            time = np.arange(3200) / 16000
            wave[start : start + 3200] += 0.5 * np.sin(2 * np.pi * TONES[emotion] * time)
            name = f"{speaker}_{number}"
            soundfile.write(root / "audio" / f"{name}.wav", wave, 16000)
            rows.append({"file": f"audio/{name}.wav", "speaker": speaker, "emotion": emotion})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


def views_config(tmp_path, root, *overrides):
    """log-mel at 100 frames/s beside a coarser log-mel (32 mels, 40 ms hop) of the same
    clip, each through the learned attention of the other."""
    return load_config(None, overrides=[
        "name=views", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]",
        "inputs={audio: {upstream: logmel, params: {num_mels: 24}}, audio_coarse: "
        "{upstream: logmel, params: {num_mels: 32, hop_ms: 40.0}}}",
        "model.fusion=attention", "model.params={fusion_params: {attention_size: 8}}",
        "finetune={strategy: full, epochs: 10, batch_size: 8, learning_rate: 0.02, "
        "validation_folds: 0, max_seconds: 0.5}", "split.only_folds=[speaker=s1]",
        "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


def test_two_views_of_the_audio_train_through_run_and_predict_from_the_clip(tmp_path, tones):
    result = run(views_config(tmp_path, tones), progress=False)
    assert result.metrics["summary"]["uar"]["value"] > 0.9  # the tone's pitch
    spec = json.loads((result.run_dir / "model.json").read_text())
    assert spec["inputs"] == {
        "audio_coarse": {
            "encoder": "logmel",
            "params": {"num_mels": 32, "hop_ms": 40.0},
            "column": "file",
        }
    }
    predictor = Predictor.from_run(result.run_dir)
    assert predictor.inputs == ()  # the view reads the clip's audio: nothing else to give
    model = predictor.scorer.models[0]
    assert model.encoders["audio_coarse"].frame_rate == 25.0
    assert model.fusion.output_size == 2 * (24 + 32)
    clips = [str(tones / "audio" / f"s1_{n}.wav") for n in range(4)]
    guesses = [max(g, key=g.get) for g in predictor.predict_files(clips)]
    assert guesses == ["anger", "sadness", "anger", "sadness"]
    with pytest.raises(RunFolderError, match="takes \\['audio', 'audio_coarse'\\]: ONNX"):
        from emotransfer.inference.onnx_export import export_onnx

        export_onnx(result.run_dir, tmp_path / "onnx")


def test_cached_states_of_both_views_train_the_same_kind_of_model(tmp_path, tones):
    """``finetune.cache_states``: each view's states are computed once, and the training
    crops cut the same stretch of time from both (100 and 25 frames per second)."""
    result = run(views_config(tmp_path, tones, "finetune.strategy=frozen",
                              "finetune.cache_states=true", "finetune.log_with=tensorboard"),
                 progress=False)  # fmt: skip
    assert result.metrics["summary"]["uar"]["value"] > 0.9
    for model in ("models/speaker=s1", "refit"):  # each trained model's TensorBoard events
        assert list((result.run_dir / model / "tracking").glob("events.out.tfevents.*")), model
    guess = Predictor.from_run(result.run_dir).predict_file(str(tones / "audio" / "s2_1.wav"))
    assert max(guess, key=guess.get) == "sadness"


def test_a_view_must_be_named_audio_something_and_read_audio(tmp_path, tones):
    with pytest.raises(ValueError, match="audio_<name> \\(a second view of the audio"):
        views_config(tmp_path, tones, "inputs.Audio2={upstream: logmel}")
    config = views_config(tmp_path, tones, "inputs.audio_coarse={upstream: frames, params: "
                          "{hidden_size: 4, frame_rate: 25.0}}")  # fmt: skip
    with pytest.raises(ValueError, match="inputs.audio_coarse: encoder 'frames' takes video "
                       "items, not audio"):  # fmt: skip
        run(config, progress=False)
