"""Experiment trackers through Accelerate: every epoch's record reaches TensorBoard's event
files and an MLflow run, read back with each tool's own reader."""

import numpy as np
import pytest
import torch

from emotransfer.encoders.logmel import LogMelEncoder
from emotransfer.models.emotion_model import EmotionModel
from emotransfer.training.tracking import check_tracker
from emotransfer.training.trainer import Trainer


def tones(count=12, seed=0):
    rng = np.random.default_rng(seed)
    time = np.arange(4000) / 16000
    pitches = [300 if i % 2 else 2000 for i in range(count)]
    waves = [(0.3 * np.sin(2 * np.pi * pitch * time) + 0.01 * rng.normal(size=time.size))
             .astype(np.float32) for pitch in pitches]  # fmt: skip
    return waves, np.arange(count) % 2


def train(folder, kind, epochs=3):
    torch.manual_seed(0)
    model = EmotionModel(encoders={"audio": LogMelEncoder(num_mels=16)}, num_classes=2)
    groups = [{"params": list(model.parameters()), "lr_scale": 1.0}]
    trainer = Trainer(model=model, param_groups=groups, epochs=epochs, learning_rate=0.01,
                      log_with=kind, log_folder=folder, log_experiment="tracked",
                      log_settings={"epochs": epochs, "note": None})  # fmt: skip
    waves, labels = tones()
    return trainer.fit(waves, labels, valid_items=waves[:4], valid_labels=labels[:4])


def test_tensorboard_gets_each_epochs_loss_and_validation_uar(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    history = train(tmp_path / "speaker=03", "tensorboard")
    events = EventAccumulator(str(tmp_path / "speaker=03" / "tracking"))
    events.Reload()
    losses = events.Scalars("loss")
    assert [e.step for e in losses] == [1, 2, 3]
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in history], rel=1e-6)
    assert [e.value for e in events.Scalars("valid_uar")] == pytest.approx(
        [r["valid_uar"] for r in history])  # fmt: skip


def test_mlflow_gets_one_run_per_trained_model(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"file:{tmp_path / 'mlruns'}")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    history = train(tmp_path / "refit", "mlflow", epochs=2)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"file:{tmp_path / 'mlruns'}")
    experiment = client.get_experiment_by_name("tracked")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == "refit" and found.data.params["epochs"] == "2"
    losses = client.get_metric_history(found.info.run_id, "loss")
    assert [(m.step, m.value) for m in losses] == pytest.approx(
        [(r["epoch"], r["loss"]) for r in history])  # fmt: skip


def test_a_tracker_is_checked_before_training():
    with pytest.raises(ValueError, match="use none, tensorboard or mlflow"):
        check_tracker("wandb")
