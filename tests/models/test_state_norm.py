import numpy as np
import torch

from emotransfer.encoders.cached import CachedStates
from emotransfer.models.emotion_model import EmotionModel
from emotransfer.models.state_norm import StateNorm
from emotransfer.training.checkpoint import trained_state
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.probe import FrozenEncoder


def test_running_statistics_are_those_of_every_real_frame_seen():
    torch.manual_seed(0)
    norm = StateNorm(num_states=2, size=3)
    batches, real = [], []
    for length in (5, 9, 2):
        states = torch.randn(4, 2, length, 3) * torch.tensor([2.0, 30.0])[:, None, None] + 7
        mask = torch.arange(length)[None] < torch.tensor([length, 1, length - 1, 2])[:, None]
        states[~mask[:, None, :, None].expand_as(states)] = 1e6  # padding never counts
        norm(states, mask)
        batches.append(states)
        real.append(states.transpose(1, 2)[mask])  # (frames, 2, 3)
    every = torch.cat(real)
    assert int(norm.count) == len(every)
    assert torch.allclose(norm.mean, every.mean(0), atol=1e-4)
    assert torch.allclose(norm.variance, every.var(0, unbiased=False), rtol=1e-4)
    # once trained, a clip is standardised the same alone and in a batch
    norm.eval()
    alone = norm(batches[0][:1, :, :5], torch.ones(1, 5, dtype=torch.bool))
    together = norm(batches[0], torch.ones(4, 5, dtype=torch.bool))[:1]
    assert torch.equal(alone, together) and int(norm.count) == len(every)


def scaled_states(count=48, seed=0):
    """(T, 3, 8) states: state 0 carries the class on feature 0 at a tiny scale; state 1 is
    noise a thousand times larger; state 2 is noise of unit scale."""
    rng = np.random.default_rng(seed)
    items, labels = [], []
    for clip in range(count):
        label = clip % 2
        states = rng.normal(0, 1, (30, 3, 8)) * np.array([0.01, 1000.0, 1.0])[:, None]
        states[:, 0, 0] += 0.02 if label else -0.02
        items.append(states.astype(np.float32))
        labels.append(label)
    return items, np.array(labels)


def test_a_mix_of_standardised_states_finds_a_class_a_raw_mix_drowns():
    items, labels = scaled_states()
    test_items, test_labels = scaled_states(seed=1)
    accuracy = {}
    for mix_norm in (False, True):
        torch.manual_seed(0)
        encoder = CachedStates(num_layers=2, hidden_size=8, frame_rate=50.0)
        model = EmotionModel(encoders={"audio": encoder}, num_classes=2, mix_norm=mix_norm)
        trainer = Trainer(model=model, param_groups=FrozenEncoder().apply(model), epochs=15,
                          batch_size=8, learning_rate=1e-2, seed=0)  # fmt: skip
        trainer.fit(items, labels)
        guess = trainer.predict_proba(test_items).argmax(1)
        accuracy[mix_norm] = (guess == test_labels).mean()
        if mix_norm:  # the statistics are saved with the trained weights
            saved = trained_state(model, list(model.head_parameters()))
            assert {"mixes.audio.norm.mean", "mixes.audio.norm.variance",
                    "mixes.audio.norm.count"} <= set(saved)  # fmt: skip
            assert float(saved["mixes.audio.norm.count"]) == 15 * 48  # pooled clips, 15 epochs
            assert int(np.argmax(model.mixes["audio"].layer_sum.weights())) == 0
    # measured 0.96 and 0.58
    assert accuracy[True] >= 0.9 and accuracy[False] <= 0.75, accuracy
