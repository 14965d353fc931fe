import numpy as np
import pandas as pd
import soundfile as sf
import torch
from tests.tiny_models import audio_model

from emotransfer.config import load_config
from emotransfer.data import streamed as streamed_module
from emotransfer.data.items import decode_waves
from emotransfer.training.loader import batches_of, decoded, streamed
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.finetune import FullFineTune

AUDIO = load_config(None).data.audio  # 16 kHz


def tone_files(folder, count=16):
    rng = np.random.default_rng(0)
    files, labels = [], []
    for number in range(count):
        label = number % 2
        t = np.arange(int(16000 * rng.uniform(0.5, 1.0))) / 16000
        pitch = (200.0, 1000.0)[label] * rng.uniform(0.95, 1.05)
        path = folder / f"{number}.wav"
        sf.write(path, 0.3 * np.sin(2 * np.pi * pitch * t), 16000)
        files.append(str(path))
        labels.append(label)
    return pd.DataFrame({"file": files, "start": np.nan, "end": np.nan}), np.array(labels)


def train(tiny_whisper, items, labels, workers):
    torch.manual_seed(0)
    model = audio_model(tiny_whisper, num_classes=2)
    trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=2,
                      batch_size=4, learning_rate=1e-2, seed=0, max_seconds=0.6,
                      loader_workers=workers)  # fmt: skip
    trainer.fit(items, labels)
    return model, trainer


def test_streamed_training_ends_with_the_weights_of_training_in_memory(tiny_whisper, tmp_path):
    table, labels = tone_files(tmp_path)
    waves, problems = decode_waves(table, AUDIO, stream=True)
    assert not problems and streamed(waves) and not streamed(decoded(waves))
    in_memory, _ = train(tiny_whisper, decoded(waves), labels, workers=0)
    for workers in (0, 2):  # decoded in this process, or two batches ahead by two workers
        from_files, trainer = train(tiny_whisper, waves, labels, workers=workers)
        for (name, a), (_, b) in zip(in_memory.state_dict().items(),
                                     from_files.state_dict().items()):  # fmt: skip
            assert torch.equal(a, b), (workers, name)
        assert trainer.predict_proba(waves).shape == (16, 2)


def test_in_this_process_each_batch_decodes_only_its_own_clips(tmp_path, monkeypatch):
    table, _ = tone_files(tmp_path, count=12)
    waves, _ = decode_waves(table, AUDIO, stream=True)
    decodes = []
    load = streamed_module.load_audio
    monkeypatch.setattr(
        streamed_module,
        "load_audio",
        lambda path, **options: decodes.append(path) or load(path, **options),
    )
    batches = [np.array([5, 1, 9]), np.array([0, 2]), np.array([11, 3, 4])]
    done = []
    for rows, items in batches_of(waves, batches, workers=0):
        done.extend(table["file"].iloc[rows])
        assert decodes == done  # this batch's clips, once each, nothing ahead
        assert [len(w) for w in items] == [waves.lengths()[i] for i in rows]
