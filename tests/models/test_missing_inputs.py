"""Clips without one of their inputs: learned stand-ins, modality dropout, clear refusals."""

import numpy as np
import pytest
import torch
from tests.encoders.toy import CharText, FrameEnergy

from emotransfer.models.emotion_model import PRESENT, EmotionModel
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.finetune import FullFineTune

WORDS = {0: ["furious", "livid"], 1: ["gloomy", "tearful"]}


def split_label(count=64, seed=0):
    """Four classes: the loudness tells classes {0, 1} from {2, 3}, the word {0, 2} from
    {1, 3}; each input alone decides half of the label."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 4
    waves = [(0.3 if label < 2 else 0.02) * rng.normal(size=4000).astype(np.float32)
             for label in labels]  # fmt: skip
    texts = [WORDS[label % 2][i % 2] for i, label in enumerate(labels)]
    return labels, waves, texts


def model_of(**options):
    torch.manual_seed(0)
    encoders = {"audio": FrameEnergy(hidden_size=4), "text": CharText(hidden_size=8)}
    return EmotionModel(**{"encoders": encoders, "num_classes": 4, "fusion": "concat",
                           "layer": None, **options})  # fmt: skip


def test_a_model_trained_with_modality_dropout_decides_from_the_audio_alone():
    labels, waves, texts = split_label()
    model = model_of(modality_dropout=0.3)
    trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=40,
                      batch_size=8, learning_rate=0.03, seed=0)  # fmt: skip
    trainer.fit({"audio": waves, "text": texts}, labels)
    test_labels, test_waves, test_texts = split_label(count=16, seed=1)
    both = trainer.predict_proba({"audio": test_waves, "text": test_texts}).argmax(axis=1)
    assert (both == test_labels).mean() >= 0.9  # together they decide the four classes
    alone = trainer.predict_proba({"audio": test_waves, "text": [None] * 16}).argmax(axis=1)
    # without the text, a prediction still comes, from the audio's half of the label
    assert ((alone < 2) == (test_labels < 2)).mean() >= 0.9
    assert not torch.equal(model.stand_ins["text"], torch.zeros(8))  # the stand-in learned


def test_presence_is_marked_per_clip_and_the_stand_in_replaces_the_pooled_text():
    model = model_of(missing_inputs=True).eval()
    with torch.no_grad():
        model.stand_ins["text"].fill_(5.0)
    batch = model.prepare({"audio": [np.ones(800, np.float32)] * 3,
                           "text": ["livid", None, "gloomy"]})  # fmt: skip
    assert batch[PRESENT].tolist() == [[1.0], [0.0], [1.0]]
    vectors = model.fusion_inputs(model.pool(batch))
    assert torch.equal(vectors["text"][1], torch.full((8,), 5.0))
    assert not torch.equal(vectors["text"][0], torch.full((8,), 5.0))


def test_modality_dropout_drops_inputs_only_while_training():
    model = model_of(modality_dropout=0.5)
    with torch.no_grad():
        model.stand_ins["text"].fill_(5.0)
    batch = model.prepare({"audio": [np.ones(800, np.float32)] * 200, "text": ["livid"] * 200})
    pooled = model.pool(batch)
    dropped = (model.train().fusion_inputs(pooled)["text"] == 5.0).all(dim=1).float().mean()
    assert 0.35 < float(dropped) < 0.65
    assert not (model.eval().fusion_inputs(pooled)["text"] == 5.0).all(dim=1).any()


def test_missing_inputs_are_refused_where_a_model_cannot_take_them():
    model = model_of()
    with pytest.raises(ValueError, match="no text for clip 1: this model needs every input"):
        model.prepare({"audio": [np.ones(800, np.float32)] * 2, "text": ["livid", None]})
    with pytest.raises(ValueError, match="fuses frame sequences"):
        model_of(missing_inputs=True, fusion="attention")
    with pytest.raises(ValueError, match="a probability"):
        model_of(modality_dropout=1.0)
    with pytest.raises(ValueError, match="no input besides the audio"):
        EmotionModel(encoders={"audio": FrameEnergy(hidden_size=4)}, num_classes=2,
                     missing_inputs=True)  # fmt: skip
    with pytest.raises(ValueError, match="a clip cannot lack this input"):
        FrameEnergy(hidden_size=4).blank_item()
