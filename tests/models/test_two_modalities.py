"""Two modalities through the one loop: audio and a tiny text encoder made here, early fusion,
the same Trainer and batch prediction as audio alone."""

import numpy as np
from tests.encoders.toy import CharText, FrameEnergy

from emotransfer.models.emotion_model import EmotionModel
from emotransfer.training.trainer import Trainer
from emotransfer.transfer.finetune import FullFineTune


def test_audio_and_text_train_through_the_same_loop():
    rng = np.random.default_rng(0)
    # The audio is noise of one level for both classes; only the words tell them apart.
    labels = np.array([0, 1] * 16)
    waves = [0.1 * rng.normal(size=8000).astype(np.float32) for _ in labels]
    words = {0: ["furious", "livid", "enraged"], 1: ["gloomy", "tearful", "downcast"]}
    texts = [words[label][i % 3] for i, label in enumerate(labels)]
    encoders = {"audio": FrameEnergy(hidden_size=4), "text": CharText(hidden_size=8)}
    model = EmotionModel(encoders=encoders, num_classes=2, fusion="concat", layer=None)
    assert model.fusion.output_size == 12 and model.sample_rate == 16000
    trainer = Trainer(model=model, param_groups=FullFineTune().apply(model), epochs=30,
                      batch_size=8, learning_rate=0.03, seed=0)  # fmt: skip
    trainer.fit({"audio": waves, "text": texts}, labels)
    held_out = {"audio": waves[:4], "text": ["livid", "gloomy", "furious", "downcast"]}
    guesses = trainer.predict_proba(held_out).argmax(axis=1)
    assert guesses.tolist() == [0, 1, 0, 1]
