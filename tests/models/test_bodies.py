import torch
from tests.encoders.toy import FrameEnergy

from emotransfer import registry
from emotransfer.models.bodies import Body, IdentityBody
from emotransfer.models.emotion_model import EmotionModel


def test_identity_body_is_the_default_and_passes_frames_through():
    assert registry.resolve("body", "identity") is IdentityBody
    frames, mask = torch.randn(2, 3, 4), torch.tensor([[1, 1, 0], [1, 1, 1]]).bool()
    out, out_mask = IdentityBody(input_size=4)(frames, mask)
    assert out is frames and out_mask is mask


class Doubler(Body):
    def forward(self, frames, mask):
        return 2 * frames, mask


def test_a_body_sits_between_the_layer_mix_and_the_pooling(monkeypatch):
    torch.manual_seed(0)
    encoder = FrameEnergy(hidden_size=4)
    plain = EmotionModel(encoders={"audio": encoder}, num_classes=2, layer=1)
    monkeypatch.setitem(registry.TABLES["body"], "doubler", f"{__name__}:Doubler")
    doubled = EmotionModel(encoders={"audio": encoder}, num_classes=2, layer=1, body="doubler")
    doubled.load_state_dict(plain.state_dict())
    assert plain.pools_per_layer and not doubled.pools_per_layer
    batch = plain.prepare([torch.randn(8000).numpy(), torch.randn(12000).numpy()])
    # mean pooling is linear: the doubled frames pool to twice the plain pooled vector
    assert torch.allclose(doubled.pool(batch)["audio"], 2 * plain.pool(batch)["audio"][:, 1],
                          atol=1e-6)  # fmt: skip
    plain.eval(), doubled.eval()
    assert plain(batch).logits.shape == doubled(batch).logits.shape == (2, 2)


def test_mixing_pooled_statistics_equals_mixing_frames_for_the_mean():
    torch.manual_seed(0)
    encoder = FrameEnergy(hidden_size=4)
    per_layer = EmotionModel(encoders={"audio": encoder}, num_classes=3, pooling="mean")
    with torch.no_grad():
        per_layer.mixes["audio"].layer_sum.logits.copy_(torch.tensor([0.3, -0.7]))
    batch = per_layer.prepare([torch.randn(9000).numpy(), torch.randn(16000).numpy()])
    per_layer.eval()
    reference = per_layer(batch).logits
    per_layer.pools_per_layer = False  # the frames path: mix the frames, then pool them
    assert torch.allclose(per_layer(batch).logits, reference, atol=1e-5)
