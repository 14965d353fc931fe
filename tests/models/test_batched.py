import numpy as np
import torch

from emotransfer.encoders.base import Encoder, EncoderOutput
from emotransfer.models.batched import keep_average_speaker, predict_logits
from emotransfer.models.emotion_model import EmotionModel


class Vectors(Encoder):
    """Each item is one vector ``(D,)``: one frame of one hidden state."""

    num_layers, hidden_size, frame_rate = 0, 3, 0.0

    def prepare(self, items):
        states = torch.as_tensor(np.stack(items), dtype=torch.float32)[:, None, None]
        return {"states": states}

    def forward(self, batch):
        states = batch["states"]
        return EncoderOutput(states, torch.ones(states.shape[0], 1, dtype=torch.bool))


def test_the_average_speaker_is_the_mean_of_speaker_means_not_of_clips():
    torch.manual_seed(0)
    model = EmotionModel(encoders={"audio": Vectors()}, num_classes=2, speaker_norm=True).eval()
    assert not model.keeps_average_speaker
    rng = np.random.default_rng(0)
    first = [rng.normal(0, 1, 3) + [4, 0, 0] for _ in range(3)]
    second = [rng.normal(0, 1, 3) - [0, 4, 0] for _ in range(5)]  # more clips, same weight
    items = first + second
    speakers = np.array(["a"] * 3 + ["b"] * 5)
    average = keep_average_speaker(model, items, 4, speakers)
    expected = (np.mean(first, axis=0) + np.mean(second, axis=0)) / 2
    np.testing.assert_allclose(average.numpy(), expected, atol=1e-5)
    assert model.keeps_average_speaker
    # Without declared speakers each clip is normalised by the average, on its own.
    alone = np.concatenate([predict_logits(model, [item], 1) for item in items])
    together = predict_logits(model, items, 8)
    np.testing.assert_allclose(alone, together, atol=1e-5)
    shifted = model.head(torch.as_tensor(np.stack(items) - expected, dtype=torch.float32))
    np.testing.assert_allclose(together, shifted.detach().numpy(), atol=1e-5)
