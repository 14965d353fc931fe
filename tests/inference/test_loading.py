"""Loading a trained run: fold models whose training left the encoder untouched share one
encoder instance; trained encoders stay per fold."""

import numpy as np
import pytest
from tests.test_contract import ENCODER, toy_config

from emotransfer.experiment import run
from emotransfer.inference import Predictor


@pytest.mark.parametrize("strategy, shared", [("frozen", True), ("full", False)])
def test_untrained_encoders_are_built_once_for_all_folds(tmp_path, synthetic_root, strategy,
                                                          shared):  # fmt: skip
    config = toy_config(tmp_path, synthetic_root, f"finetune.strategy={strategy}",
                        "finetune.epochs=2", "split.only_folds=[speaker=s01, speaker=s02]",
                        "finetune.normalization=global", "model.fusion=identity")  # fmt: skip
    folder = run(config, progress=False).run_dir
    predictor = Predictor.from_run(folder, plugins=[ENCODER])
    first, second = (model.encoders["audio"] for model in predictor.scorer.models)
    assert (first is second) == shared
    wave = np.full(16000, 0.01, dtype=np.float32)
    assert abs(sum(predictor.predict_signal(wave).values()) - 1) < 1e-6
