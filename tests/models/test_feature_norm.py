import numpy as np
import pytest
import torch
from tests.encoders.toy import FrameEnergy

from emotransfer.models.emotion_model import EmotionModel
from emotransfer.models.feature_norm import FeatureNorm
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.probe import FrozenEncoder


def test_a_training_batch_of_one_clip_is_standardised_with_the_running_statistics():
    norm = FeatureNorm(2)
    norm(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))  # running statistics move towards these
    one = torch.tensor([[1.0, 20.0]])
    expected = (one - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
    assert torch.allclose(norm(one), expected)
    batch = torch.tensor([[1.0, 5.0], [3.0, 7.0], [5.0, 9.0]])
    assert torch.allclose(norm(batch).mean(0), torch.zeros(2), atol=1e-6)  # the batch's own


def model_of(head_norm):
    torch.manual_seed(0)
    return EmotionModel(encoders={"audio": FrameEnergy(hidden_size=4)}, num_classes=2,
                        head_norm=head_norm)  # fmt: skip


def test_a_batch_normalised_head_trains_and_its_statistics_are_saved_with_it():
    rng = np.random.default_rng(0)
    labels = np.arange(33) % 2  # 33 clips: the last batch of each epoch holds one
    waves = [(0.3 if label else 0.03) * rng.normal(size=4000).astype(np.float32)
             for label in labels]  # fmt: skip
    model = model_of("batch")  # on a frozen encoder, as on frozen pretrained frames
    trainer = Trainer(model=model, param_groups=FrozenEncoder().apply(model), epochs=8,
                      batch_size=8, learning_rate=0.03, seed=0)  # fmt: skip
    trainer.fit(waves, labels)
    assert (trainer.predict_proba(waves).argmax(axis=1) == labels).mean() > 0.9
    state = trainer._trainable_state()
    assert {"head.0.running_mean", "head.0.running_var"} <= set(state)
    assert not torch.equal(state["head.0.running_mean"], torch.zeros(4))
    again = model_of("batch")  # a model rebuilt from the saved state predicts the same
    Trainer(model=again, param_groups=FrozenEncoder().apply(again))._load_trainable(state)
    batch = again.prepare(waves[:5])
    with torch.no_grad():
        assert torch.allclose(again.eval()(batch).logits, model.eval()(batch).logits)


def test_an_unknown_head_norm_is_refused():
    with pytest.raises(ValueError, match="head_norm 'group': one of"):
        model_of("group")
