import pytest
import torch

from emotransfer import registry
from emotransfer.models.frame_pooling import AttentiveStatsPooling, MeanStdPooling


@pytest.mark.parametrize("name", registry.names("pooling"))
def test_padded_frames_change_nothing(name):
    torch.manual_seed(0)
    pooling = registry.build("pooling", name, input_size=4)
    frames = torch.randn(2, 3, 6, 4)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    padded = frames.clone()
    padded[0, :, 4:] = 1e3  # whatever the padding holds
    pooled = pooling(frames, mask)
    assert pooled.shape == (2, 3, pooling.output_size)
    assert torch.allclose(pooling(padded, mask), pooled)
    assert torch.allclose(pooling(frames[:1, :, :4], mask[:1, :4]), pooled[:1], atol=1e-6)


def test_mean_std_is_the_population_statistics_of_the_real_frames():
    frames = torch.tensor([[[[1.0], [3.0], [5.0], [0.0]]]])
    mask = torch.tensor([[True, True, True, False]])
    mean, std = MeanStdPooling(input_size=1)(frames, mask)[0, 0]
    assert float(mean) == 3.0 and abs(float(std) - (8 / 3) ** 0.5) < 1e-6


def test_attentive_pooling_learns_to_attend():
    torch.manual_seed(0)
    pooling = AttentiveStatsPooling(input_size=2, hidden=8)
    # The label is carried by the one frame whose first feature is large; the mean hides it.
    frames = torch.randn(64, 1, 10, 2) * 0.1
    labels = torch.randint(0, 2, (64,)).float()
    frames[torch.arange(64), 0, 3, 0] = 5.0
    frames[torch.arange(64), 0, 3, 1] = labels * 2 - 1
    linear = torch.nn.Linear(4, 1)
    optimizer = torch.optim.Adam([*pooling.parameters(), *linear.parameters()], lr=0.05)
    mask = torch.ones(64, 10, dtype=torch.bool)
    for _ in range(150):
        logits = linear(pooling(frames, mask)[:, 0]).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.1


def test_attentive_pooling_with_a_uniform_start_is_the_mean_and_std_until_trained():
    torch.manual_seed(0)
    frames, mask = torch.randn(3, 2, 7, 4), torch.ones(3, 7, dtype=torch.bool)
    mask[0, 5:] = False
    uniform = AttentiveStatsPooling(input_size=4, start="uniform")
    assert torch.allclose(uniform(frames, mask), MeanStdPooling(input_size=4)(frames, mask),
                          atol=1e-6)  # fmt: skip
    assert not torch.allclose(AttentiveStatsPooling(input_size=4)(frames, mask),
                              MeanStdPooling(input_size=4)(frames, mask), atol=1e-3)  # fmt: skip
    with pytest.raises(ValueError, match="start must be"):
        AttentiveStatsPooling(input_size=4, start="zeros")
