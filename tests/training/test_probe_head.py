import numpy as np
import torch

from emotransfer.encoders.cached import CachedStates
from emotransfer.models.emotion_model import EmotionModel
from emotransfer.training.lpft import LPFTTrainer
from emotransfer.training.probe_head import fit_head_like_probe, head_state
from emotransfer.transfer.probe import FrozenEncoder


def layered_states(speakers, clips=8, seed=0):
    """Frozen states (T, 3, 16): hidden state 1 carries the class along its first feature,
    relative to the speaker (each speaker adds its own offset to every state); states 0 and
    2 are noise."""
    rng = np.random.default_rng(seed)
    items, labels, groups = [], [], []
    for speaker in speakers:
        offset = rng.normal(0, 3, 16)
        for clip in range(clips):
            label = clip % 2
            states = rng.normal(0, 1, (int(rng.integers(20, 40)), 3, 16)) + offset
            states[:, 1, 0] += 1.5 if label else -1.5
            items.append(states.astype(np.float16))
            labels.append(label)
            groups.append(speaker)
    return items, np.array(labels), np.array(groups)


def states_model(dropout=0.1):
    torch.manual_seed(0)
    encoder = CachedStates(num_layers=2, hidden_size=16, frame_rate=50.0)
    return EmotionModel(encoders={"audio": encoder}, num_classes=2, pooling="mean",
                        speaker_norm=True, head_norm="batch", dropout=dropout)  # fmt: skip


def test_a_head_fitted_as_the_probe_learns_the_speaker_relative_class_of_unseen_speakers():
    items, labels, groups = layered_states([f"s{i}" for i in range(6)])
    test_items, test_labels, test_groups = layered_states(["t0", "t1"], seed=1)
    model = states_model()
    trainer = LPFTTrainer(model=model, param_groups=FrozenEncoder().apply(model),
                          epochs=0, batch_size=8, learning_rate=1e-3, seed=0, head_epochs=120,
                          recipe="probe", inner_folds=3)  # fmt: skip
    trainer.fit(items, labels, groups=groups, valid_items=test_items, valid_labels=test_labels,
                valid_groups=test_groups)  # fmt: skip
    (record,) = trainer.history_
    assert record["epoch"] == 0 and record["weight_decay"] in (1e-3, 1e-1)
    assert record["valid_uar"] >= 0.9


def test_the_head_is_refitted_on_every_row_with_the_decay_the_inner_folds_chose():
    items, labels, groups = layered_states([f"s{i}" for i in range(4)], clips=6)
    model = states_model(dropout=0.0)
    start = head_state(model)
    batch = model.prepare(items)
    with torch.no_grad():
        pooled = model.pool(batch)
    ids = torch.as_tensor(np.unique(groups, return_inverse=True)[1])
    weights = torch.ones(2)

    def loss(output, rows):
        return torch.nn.functional.cross_entropy(output.logits, torch.as_tensor(labels[rows]),
                                                 weight=weights)  # fmt: skip

    torch.manual_seed(1)
    chosen, _ = fit_head_like_probe(model, pooled, labels, groups, ids, loss, steps=30,
                                    weight_decays=(1e-3, 1.0), folds=2)  # fmt: skip
    fitted = model.classifier.weight.detach().clone()
    model.load_state_dict(start, strict=False)
    torch.manual_seed(1)
    again, _ = fit_head_like_probe(model, pooled, labels, groups, ids, loss, steps=30,
                                   weight_decays=(chosen,))  # fmt: skip
    assert again == chosen in (1e-3, 1.0)
    # one grid point: no inner folds, the same fit on every row (no dropout: the same steps)
    assert torch.allclose(model.classifier.weight, fitted, atol=1e-6)
