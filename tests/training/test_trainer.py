import numpy as np
import pytest
import torch

from emotransfer.models.audio_model import build_model
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.finetune import FineTune, FullFineTune
from emotransfer.transfer.lora import LoRA


def two_tone_task(count=24, seed=0):
    """Class 0: low tones, class 1: high tones; random pitch and length within a class."""
    rng = np.random.default_rng(seed)
    waves, labels = [], []
    for i in range(count):
        label = i % 2
        pitch = rng.uniform(150, 250) if label == 0 else rng.uniform(900, 1200)
        t = np.arange(int(16000 * rng.uniform(0.5, 1.0))) / 16000
        wave = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.normal(size=t.size)
        waves.append(wave.astype(np.float32))
        labels.append(label)
    return waves, np.array(labels)


def train(folder, strategy, epochs, checkpoint=None, **options):
    torch.manual_seed(0)
    model = build_model(model=folder, num_classes=2)
    groups = strategy.apply(model)
    trainer = Trainer(model=model, param_groups=groups, epochs=epochs, batch_size=8,
                      learning_rate=1e-2, seed=0, checkpoint_dir=checkpoint, patience=10,
                      **options)  # fmt: skip
    waves, labels = two_tone_task()
    trainer.fit(waves, labels, valid_waves=waves[:8], valid_labels=labels[:8])
    return trainer, model


def test_full_finetuning_learns_a_separable_task(tiny_whisper):
    trainer, _ = train(tiny_whisper, FullFineTune(), epochs=6)
    waves, labels = two_tone_task(seed=1)
    assert (trainer.predict_proba(waves).argmax(1) == labels).mean() >= 0.9
    assert [r["epoch"] for r in trainer.history_] == list(range(1, 7))


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tiny_whisper, tmp_path):
    _, uninterrupted = train(tiny_whisper, LoRA(rank=2), epochs=4)
    train(tiny_whisper, LoRA(rank=2), epochs=2, checkpoint=tmp_path / "ck")  # "killed" after 2
    resumed_trainer, resumed = train(tiny_whisper, LoRA(rank=2), epochs=4,
                                     checkpoint=tmp_path / "ck")  # fmt: skip
    assert [r["epoch"] for r in resumed_trainer.history_] == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(uninterrupted.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert (tmp_path / "ck" / "trainable.safetensors").is_file()
    assert not (tmp_path / "ck.tmp").exists()


def test_partial_freezing_and_layer_decay(tiny_whisper):
    model = build_model(model=tiny_whisper, num_classes=2)
    groups = FineTune(freeze_bottom=1, layer_decay=0.5).apply(model)
    names = {n: p for n, p in model.named_parameters()}
    assert not names["backbone.module.layers.0.fc1.weight"].requires_grad
    assert names["backbone.module.layers.1.fc1.weight"].requires_grad
    assert not names["backbone.module.conv1.weight"].requires_grad  # feature encoder frozen
    scales = sorted(g["lr_scale"] for g in groups)
    assert scales[-1] == 1.0 and 0.5 in scales  # head 1.0, top layer 0.5 ** 1


def test_lora_trains_only_adapters_and_head(tiny_wav2vec2):
    model = build_model(model=tiny_wav2vec2, num_classes=3)
    LoRA(rank=2).apply(model)
    trained = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n or n.startswith(("head.", "layer_sum.")) for n in trained)
    with pytest.raises(ValueError, match="no module named"):
        LoRA(target_modules=["nothing_here"]).apply(build_model(model=tiny_wav2vec2, num_classes=2))
