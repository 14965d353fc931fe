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


def test_a_trained_run_serves_probabilities_calibrated_on_its_folds_held_out_logits(
    tmp_path, synthetic_root
):  # fmt: skip
    import json

    import pandas as pd

    from emotransfer.io import RunFolderError
    from emotransfer.models.batched import softmax
    from emotransfer.models.calibration import fit_temperature
    from emotransfer.run_files import record_model_files

    common = ("finetune.epochs=30", "finetune.learning_rate=0.1", "finetune.refit=false",
              "finetune.normalization=global", "model.fusion=identity")  # fmt: skip
    raw = run(toy_config(tmp_path / "raw", synthetic_root, *common, "finetune.calibration=none"),
              progress=False)  # fmt: skip
    result = run(toy_config(tmp_path, synthetic_root, *common), progress=False)
    folder = result.run_dir
    calibration = result.metrics["calibration"]
    assert calibration["method"] == "temperature"
    assert raw.metrics["calibration"]["temperature"] == 1.0
    # the same fold models, only their probabilities change; the predictions do not
    assert result.metrics["summary"] == raw.metrics["summary"]
    assert calibration["nll"] < raw.metrics["calibration"]["nll"]
    folds = sorted((folder / "folds").glob("*.json"))
    saved = [json.loads(path.read_text()) for path in folds]
    table = pd.read_csv(folder / "predictions.csv")  # the manifest's rows, in its order
    truth = {c: i for i, c in enumerate(result.metrics["classes"])}
    rows = [[truth[e] for e in table["true"].to_numpy()[fold["test"]]] for fold in saved]
    assert all(len(set(table["fold"].to_numpy()[fold["test"]])) == 1 for fold in saved)
    logits = [np.asarray(fold["logits"], dtype=np.float32) for fold in saved]
    every = fit_temperature(np.concatenate(logits), np.concatenate(rows))
    assert calibration["temperature"] == pytest.approx(every)
    assert json.loads((folder / "calibration.json").read_text())["temperature"] == \
        pytest.approx(every)  # fmt: skip
    assert "calibration.json" in json.loads((folder / "files.json").read_text())["files"]
    served = Predictor.from_run(folder, plugins=[ENCODER])
    assert served.scorer.temperature == pytest.approx(every)
    plain = Predictor.from_run(raw.run_dir, plugins=[ENCODER])
    wave = np.random.default_rng(0).normal(0, 0.05, 16000).astype(np.float32)
    tempered, untempered = served.predict_signal(wave), plain.predict_signal(wave)
    assert max(tempered, key=tempered.get) == max(untempered, key=untempered.get)
    from emotransfer.models.batched import predict_logits

    models = served.scorer.models  # the fold ensemble (no refit): each model tempered
    expected = np.mean([softmax(predict_logits(m, [wave], 1), every)[0] for m in models], 0)
    assert list(tempered.values()) == pytest.approx(expected.tolist(), abs=1e-6)
    (folder / "calibration.json").write_text('{"temperature": -1}')
    record_model_files(folder)
    with pytest.raises(RunFolderError, match="calibration.json.*positive number"):
        Predictor.from_run(folder, plugins=[ENCODER])
