"""A run folder written before the model contract (model.json format 1, weights named
``backbone.*`` / ``layer_sum.*``) still loads and predicts what it predicted then.

``tests/data/legacy_run_v1`` was made by the code of commit 547cb33 (a LoRA fine-tuning run of
the tiny Whisper on the synthetic corpus, one fold, LP-FT): its model.json, its fold weights,
and the probabilities its Predictor gave for two tones (``expected.json``).
"""

import json
import shutil
from pathlib import Path

import numpy as np

from emotransfer.inference import Predictor
from emotransfer.model_spec import read_model_spec
from emotransfer.run_files import record_model_files

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "legacy_run_v1"


def test_a_format_1_run_folder_predicts_as_it_did(tmp_path, tiny_whisper):
    folder = tmp_path / "run"
    shutil.copytree(FIXTURE, folder)
    spec = json.loads((folder / "model.json").read_text())
    assert "format" not in spec and spec["model"] == "TINY_WHISPER"
    spec["model"] = tiny_whisper  # the same seeded tiny Whisper, saved where this test runs
    (folder / "model.json").write_text(json.dumps(spec))
    record_model_files(folder)
    loaded = read_model_spec(folder)
    assert loaded.format == 1 and loaded.encoder == "hf"
    assert loaded.encoder_params == {"model": tiny_whisper, "whisper_input": "real_length",
                                     "random_init": False, "trust_remote_code": False}  # fmt: skip
    expected = json.loads((FIXTURE / "expected.json").read_text())
    t = np.arange(16000) / 16000
    clips = [(0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32) for hz in expected["clips_hz"]]
    predicted = Predictor.from_run(folder).predict_signals(clips)
    for got, want in zip(predicted, expected["probabilities"]):
        assert got.keys() == want.keys()
        np.testing.assert_allclose(list(got.values()), list(want.values()), atol=1e-6)
