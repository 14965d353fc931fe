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
    predictor = Predictor.from_run(folder, plugins=[ENCODER], folds=True)
    first, second = (model.encoders["audio"] for model in predictor.scorer.models)
    assert (first is second) == shared
    wave = np.full(16000, 0.01, dtype=np.float32)
    assert abs(sum(predictor.predict_signal(wave).values()) - 1) < 1e-6


def test_a_trained_run_serves_one_refit_model_trained_for_the_folds_best_epochs(
    tmp_path, synthetic_root
):  # fmt: skip
    import json

    config = toy_config(tmp_path, synthetic_root, "finetune.strategy=full", "finetune.epochs=4",
                        "finetune.validation_folds=2", "finetune.patience=1",
                        "finetune.normalization=global", "model.fusion=identity")  # fmt: skip
    result = run(config, progress=False)
    folder = result.run_dir
    refit = result.metrics["refit"]
    best = [fold["best_params"]["best_epoch"] for fold in result.metrics["folds"]]
    assert refit["fold_epochs"] == best and refit["epochs"] == int(np.ceil(np.median(best)))
    history = json.loads((folder / "refit" / "history.json").read_text())
    assert [record["epoch"] for record in history] == list(range(1, refit["epochs"] + 1))
    assert "valid_uar" not in history[0]  # every clip trains; nothing is held out
    assert "refit/trainable.safetensors" in json.loads((folder / "files.json").read_text())["files"]
    served = Predictor.from_run(folder, plugins=[ENCODER])
    ensemble = Predictor.from_run(folder, plugins=[ENCODER], folds=True)
    assert len(served.scorer.models) == 1 and len(ensemble.scorer.models) == 4
    wave = np.full(16000, 0.01, dtype=np.float32)
    assert abs(sum(served.predict_signal(wave).values()) - 1) < 1e-6
