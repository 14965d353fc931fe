"""The model contract end to end: an encoder and a fusion registered out of tree train through
the same loop (``emotransfer.experiment.run``) and predict through the same Predictor."""

import json

import numpy as np
import pytest
import torch

from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor
from emotransfer.io import RunFolderError

ENCODER = "tests.encoders.toy:FrameEnergy"
FUSION = "tests.encoders.toy:GatedFusion"


def toy_config(tmp_path, root, *overrides):
    return load_config(None, overrides=[
        "name=toy", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "data.labels.classes=[anger, sadness]", f"plugins=[{ENCODER}, {FUSION}]",
        f"model={{encoder: '{ENCODER}', encoder_params: {{hidden_size: 8}}, fusion: '{FUSION}'}}",
        "finetune={strategy: full, epochs: 25, batch_size: 8, learning_rate: 0.03, "
        "validation_folds: 0, max_seconds: null, normalization: speaker}",
        "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


def test_an_out_of_tree_encoder_and_fusion_train_and_predict(tmp_path, synthetic_root):
    # Anger clips of the synthetic corpus are loud and bright, sadness quiet and dark: frame
    # energy and zero crossings separate them.
    result = run(toy_config(tmp_path, synthetic_root), progress=False)
    assert result.metrics["summary"]["uar"]["value"] >= 0.8
    spec = json.loads((result.run_dir / "model.json").read_text())
    assert spec["format"] == 2 and spec["encoder"] == ENCODER and spec["fusion"] == FUSION
    with pytest.raises(RunFolderError, match="is a class path"):
        Predictor.from_run(result.run_dir)  # a run folder never makes emotransfer import code
    predictor = Predictor.from_run(result.run_dir, plugins=[ENCODER, FUSION])
    model = predictor.scorer.models[0]
    assert type(model.encoders["audio"]).__name__ == "FrameEnergy"
    assert not torch.equal(model.fusion.gates.detach(), torch.ones(1))  # the fusion trained
    rng = np.random.default_rng(0)
    loud = 0.5 * np.sign(np.sin(np.arange(16000) / 3.0)) + 0.1 * rng.normal(size=16000)
    quiet = 0.01 * np.sin(np.arange(16000) * 2 * np.pi * 120 / 16000)
    guesses = predictor.predict_signals([loud.astype(np.float32), quiet.astype(np.float32)])
    assert all(abs(sum(g.values()) - 1) < 1e-6 for g in guesses)
    assert guesses[0]["anger"] > guesses[1]["anger"]


BODY = "tests.encoders.toy:TemporalConv"
FRAME_FUSION = "tests.encoders.toy:AttentionFusion"


@pytest.mark.parametrize("model, trained", [
    (f"{{encoder: '{ENCODER}', encoder_params: {{hidden_size: 8}}, "
     f"params: {{body: '{BODY}', body_params: {{channels: 6}}, pooling: attentive}}}}",
     lambda model: model.bodies["audio"].conv.weight),
    (f"{{encoder: '{ENCODER}', encoder_params: {{hidden_size: 8}}, fusion: '{FRAME_FUSION}', "
     f"params: {{body: '{BODY}'}}}}",
     lambda model: model.fusion.queries["audio"]),
])  # fmt: skip
def test_an_out_of_tree_body_and_frame_level_fusion_train_and_predict(
    tmp_path, synthetic_root, synthetic_table, model, trained
):  # fmt: skip
    plugins = [ENCODER, BODY, FRAME_FUSION]
    config = toy_config(tmp_path, synthetic_root, f"plugins=[{', '.join(plugins)}]",
                        f"model={model}", "finetune.normalization=global")  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] >= 0.8
    spec = json.loads((result.run_dir / "model.json").read_text())
    assert spec["architecture_params"]["body"] == BODY
    with pytest.raises(RunFolderError, match="is a class path"):
        Predictor.from_run(result.run_dir, plugins=[ENCODER])  # the body is not allowed
    predictor = Predictor.from_run(result.run_dir, plugins=plugins, folds=True)
    fold = predictor.scorer.models[0]
    assert not fold.pools_per_layer and type(fold.bodies["audio"]).__name__ == "TemporalConv"
    assert trained(fold).abs().sum() > 0  # trained weights were loaded into the part
    clips = synthetic_table[synthetic_table["emotion"].isin(["anger", "sadness"])]
    guesses = predictor.predict_files(clips["file"].tolist())
    anger = np.array([guess["anger"] for guess in guesses])
    is_anger = (clips["emotion"] == "anger").to_numpy()
    assert anger[is_anger].mean() > anger[~is_anger].mean() + 0.3
