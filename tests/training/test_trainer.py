import numpy as np
import pytest
import torch
from tests.tiny_models import audio_model

from emotransfer.training.lpft import LPFTTrainer
from emotransfer.training.samplers import SpeakerBatches
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
    model = audio_model(folder, num_classes=2)
    groups = strategy.apply(model)
    kind = LPFTTrainer if "head_epochs" in options else Trainer
    trainer = kind(model=model, param_groups=groups, epochs=epochs, batch_size=8,
                   learning_rate=1e-2, seed=0, checkpoint_dir=checkpoint, patience=10,
                   **options)  # fmt: skip
    waves, labels = two_tone_task()
    trainer.fit(waves, labels, valid_items=waves[:8], valid_labels=labels[:8])
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
    model = audio_model(tiny_whisper, num_classes=2)
    groups = FineTune(freeze_bottom=1, layer_decay=0.5).apply(model)
    names = {n: p for n, p in model.named_parameters()}
    assert not names["encoders.audio.module.layers.0.fc1.weight"].requires_grad
    assert names["encoders.audio.module.layers.1.fc1.weight"].requires_grad
    assert not names["encoders.audio.module.conv1.weight"].requires_grad  # feature encoder frozen
    scales = sorted(g["lr_scale"] for g in groups)
    assert scales[-1] == 1.0 and 0.5 in scales  # head 1.0, top layer 0.5 ** 1


def test_lora_trains_only_adapters_and_head(tiny_wav2vec2):
    model = audio_model(tiny_wav2vec2, num_classes=3)
    LoRA(rank=2).apply(model)
    trained = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n or n.startswith(("head.", "mixes.")) for n in trained)
    with pytest.raises(ValueError, match="no module named"):
        LoRA(target_modules=["nothing_here"]).apply(audio_model(tiny_wav2vec2, num_classes=2))


def relative_pitch_task(count=48, seed=0):
    """Class = low or high tone *for its speaker*: speaker "a" uses 200 / 300 Hz, speaker "b"
    300 / 450 Hz, so 300 Hz is class 1 for one speaker and class 0 for the other."""
    rng = np.random.default_rng(seed)
    tones = {"a": (200.0, 300.0), "b": (300.0, 450.0)}
    waves, labels, speakers = [], [], []
    for i in range(count):
        speaker, label = "ab"[i % 2], (i // 2) % 2
        pitch = tones[speaker][label] * rng.uniform(0.97, 1.03)
        t = np.arange(int(16000 * rng.uniform(0.5, 0.8))) / 16000
        wave = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.normal(size=t.size)
        waves.append(wave.astype(np.float32))
        labels.append(label)
        speakers.append(speaker)
    return waves, np.array(labels), np.array(speakers)


def test_speaker_normalised_model_learns_labels_relative_to_the_speaker(tiny_whisper):
    waves, labels, speakers = relative_pitch_task()
    test_waves, test_labels, test_speakers = relative_pitch_task(seed=1)
    accuracy = {}
    for speaker_norm in (False, True):
        torch.manual_seed(0)
        model = audio_model(tiny_whisper, num_classes=2, speaker_norm=speaker_norm)
        trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=8,
                          batch_size=8, learning_rate=1e-2, seed=0, patience=10)  # fmt: skip
        trainer.fit(waves, labels, groups=speakers)
        guess = trainer.predict_proba(test_waves, groups=test_speakers).argmax(1)
        accuracy[speaker_norm] = (guess == test_labels).mean()
    # 300 Hz is "high" for one speaker and "low" for the other: only the speaker-relative
    # model separates all four tones (measured 1.0 vs 0.75).
    assert accuracy[True] >= 0.9 and accuracy[False] <= 0.8
    with pytest.raises(ValueError, match="speaker of every clip"):
        trainer.predict_proba(test_waves)


def test_speaker_batches_hold_one_speaker_and_no_tiny_remainder():
    groups = np.repeat([0, 1, 2], [17, 8, 3])
    sampler = SpeakerBatches(batch_size=8, groups=groups)
    batches = sampler.batches(np.random.default_rng(0), [0] * len(groups))
    assert sorted(np.concatenate(batches).tolist()) == list(range(28))
    assert all(len(set(groups[b])) == 1 for b in batches)
    assert sorted(len(b) for b in batches) == [3, 8, 8, 9]  # 17 = 8 + 9, not 8 + 8 + 1


def test_speaker_normalisation_ignores_a_constant_shift_of_a_speaker():
    from emotransfer.encoders.base import Encoder
    from emotransfer.models.emotion_model import EmotionModel

    class Stub(Encoder):
        num_layers, hidden_size, frame_rate = 0, 4, 0.0

    model = EmotionModel(encoders={"audio": Stub()}, num_classes=3, speaker_norm=True).eval()
    pooled = torch.randn(6, 1, 4)
    speakers = torch.tensor([0, 0, 0, 1, 1, 1])
    shifted = pooled + torch.tensor([5.0, -3.0, 2.0, 1.0]) * (speakers == 1).float()[:, None, None]
    torch.testing.assert_close(model.decide({"audio": pooled}, speakers).logits,
                               model.decide({"audio": shifted}, speakers).logits)  # fmt: skip
    with pytest.raises(ValueError, match="per speaker"):
        model.decide({"audio": pooled})


def test_a_training_split_without_the_last_class_still_trains(tiny_whisper):
    model = audio_model(tiny_whisper, num_classes=3)  # class 2 absent from training
    trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=1,
                      batch_size=8, seed=0)  # fmt: skip
    waves, labels = two_tone_task(count=8)
    trainer.fit(waves, labels)
    assert trainer.predict_proba(waves).shape == (8, 3)


def test_head_warm_up_learns_from_frozen_states_before_any_encoder_step(tiny_whisper):
    # head_epochs with no fine-tuning epochs is linear probing on pooled frozen states: the
    # head alone learns the speaker-relative tones (speaker means remove the random encoder's
    # constant offsets); validation scores the warm-up as epoch 0.
    waves, labels, speakers = relative_pitch_task()
    test_waves, test_labels, test_speakers = relative_pitch_task(seed=1)
    torch.manual_seed(0)
    model = audio_model(tiny_whisper, num_classes=2, speaker_norm=True)
    trainer = LPFTTrainer(model=model, param_groups=FullFineTune().apply(model), epochs=0,
                          batch_size=8, learning_rate=1e-2, seed=0, head_epochs=50)  # fmt: skip
    trainer.fit(waves, labels, groups=speakers, valid_items=test_waves,
                valid_labels=test_labels, valid_groups=test_speakers)  # fmt: skip
    assert [r["epoch"] for r in trainer.history_] == [0]
    assert trainer.history_[0]["valid_uar"] >= 0.9
    guess = trainer.predict_proba(test_waves, groups=test_speakers).argmax(1)
    assert (guess == test_labels).mean() >= 0.9


def test_head_warm_up_leaves_the_encoder_unchanged_and_resumes_exactly(tiny_whisper, tmp_path):
    torch.manual_seed(0)
    model = audio_model(tiny_whisper, num_classes=2)
    before = {n: p.clone() for n, p in model.encoders.named_parameters()}
    trainer = LPFTTrainer(model=model, param_groups=LoRA(rank=2).apply(model), epochs=0,
                          batch_size=8, learning_rate=1e-2, seed=0, head_epochs=5)  # fmt: skip
    waves, labels = two_tone_task()
    trainer.fit(waves, labels)
    for name, value in model.encoders.named_parameters():
        if name in before:
            assert torch.equal(value, before[name]), name
    head = model.head[-1].weight.detach().clone()
    assert not torch.equal(head, audio_model(tiny_whisper, num_classes=2).head[-1].weight)
    # A warm-up + 3 epochs run, killed after 1 epoch and resumed, ends where one run ends.
    _, uninterrupted = train(tiny_whisper, LoRA(rank=2), epochs=3, head_epochs=5)
    train(tiny_whisper, LoRA(rank=2), epochs=1, checkpoint=tmp_path / "ck", head_epochs=5)
    resumed_trainer, resumed = train(tiny_whisper, LoRA(rank=2), epochs=3,
                                     checkpoint=tmp_path / "ck", head_epochs=5)  # fmt: skip
    assert [r["epoch"] for r in resumed_trainer.history_] == [0, 1, 2, 3]
    for (name, a), (_, b) in zip(uninterrupted.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


def test_training_crops_cut_the_same_time_from_every_view_of_the_audio():
    """Cached states of two audio views at 100 and 25 frames per second: each clip's crop is
    one stretch of time in both (each frame holds its own time in seconds)."""
    from emotransfer.encoders.cached import CachedStates
    from emotransfer.models.emotion_model import EmotionModel

    encoders = {
        "audio": CachedStates(num_layers=0, hidden_size=1, frame_rate=100.0),
        "audio_coarse": CachedStates(num_layers=0, hidden_size=1, frame_rate=25.0),
    }
    model = EmotionModel(encoders=encoders, num_classes=2, fusion="concat")
    trainer = Trainer(model=model, param_groups=[], max_seconds=0.4)

    def clock(seconds, rate):
        return (np.arange(int(seconds * rate)) / rate).reshape(-1, 1, 1)

    items = {
        "audio": [clock(s, 100) for s in (2.0, 0.3, 1.1)],
        "audio_coarse": [clock(s, 25) for s in (2.0, 0.3, 1.1)],
    }
    cropped = trainer.crop_items(items, np.random.default_rng(0))
    for fine, coarse in zip(cropped["audio"], cropped["audio_coarse"]):
        # the same start and duration, to the nearest coarse frame (40 ms)
        assert abs(fine[0, 0, 0] - coarse[0, 0, 0]) <= 0.02 + 1e-9
        assert abs(len(fine) / 100 - len(coarse) / 25) < 0.04
    assert [len(clip) for clip in cropped["audio"]] == [40, 30, 40]  # 0.3 s stays whole
    plain = Trainer(model=model, param_groups=[], max_seconds=0.4)
    alone = plain.crop_items(items["audio"], np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(alone, cropped["audio"]))  # same draws


def test_a_dimensional_head_learns_values_beside_the_classes_and_skips_unknown_ones(tiny_whisper):
    torch.manual_seed(0)
    model = audio_model(tiny_whisper, num_classes=2, dimensions=1)
    trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=6,
                      batch_size=8, learning_rate=1e-2, seed=0)  # fmt: skip
    waves, labels = two_tone_task()
    values = np.where(labels == 1, 1.0, -1.0)[:, None]  # e.g. arousal: high tones aroused
    values[::3] = np.nan  # unknown for a third of the clips: left out of the loss
    trainer.fit(waves, labels, values=values)
    assert all(np.isfinite(record["loss"]) for record in trainer.history_)
    test, truth = two_tone_task(seed=1)
    logits, predicted = trainer.predict_outputs(test)
    assert logits.shape == (24, 2) and predicted.shape == (24, 1)
    high, low = predicted[truth == 1, 0].mean(), predicted[truth == 0, 0].mean()
    assert high - low > 1.0  # the values follow the tones, on the targets' scale


def test_values_for_a_model_without_a_dimensional_head_are_refused(tiny_whisper):
    model = audio_model(tiny_whisper, num_classes=2)
    trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=1,
                      batch_size=8, seed=0)  # fmt: skip
    waves, labels = two_tone_task(count=8)
    with pytest.raises(ValueError, match="no dimensional head"):
        trainer.fit(waves, labels, values=np.zeros((8, 1)))
