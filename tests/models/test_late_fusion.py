import numpy as np
import pytest
import torch

from emotransfer.models.late_fusion import LateFusion


def split_labels(count, rng):
    """Four classes, each modality telling apart only two of them: audio knows 0 from 1 (2 and 3
    look alike to it), text knows 2 from 3; noise knows nothing."""
    labels = np.arange(count) % 4
    audio = rng.normal(0, 0.3, (count, 3))
    audio[np.arange(count), np.minimum(labels, 2)] += 2.0  # classes 2 and 3: one pattern
    text = rng.normal(0, 0.3, (count, 3))
    text[np.arange(count), np.maximum(labels - 1, 0)] += 2.0  # classes 0 and 1: one pattern
    noise = rng.normal(0, 1.0, (count, 3))
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return {"audio": as_tensor(audio), "text": as_tensor(text),
            "noise": as_tensor(noise)}, torch.as_tensor(labels)  # fmt: skip


def trained(names, pooled, labels, seed=0):
    torch.manual_seed(seed)
    fusion = LateFusion(sizes={n: 3 for n in names}, num_classes=4, dropout=0.0)
    optimizer = torch.optim.Adam(fusion.parameters(), lr=0.05)
    for _ in range(80):
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(fusion({n: pooled[n] for n in names}), labels)
        loss.backward()
        optimizer.step()
    return fusion.eval()


def accuracy(fusion, pooled, labels):
    with torch.no_grad():
        guess = fusion({n: pooled[n] for n in fusion.sizes}).argmax(dim=1)
    return float((guess == labels).float().mean())


def test_late_fusion_beats_each_modality_when_the_label_is_split_across_them():
    rng = np.random.default_rng(0)
    train, train_labels = split_labels(200, rng)
    test, test_labels = split_labels(200, rng)
    alone = {n: accuracy(trained([n], train, train_labels), test, test_labels)
             for n in ("audio", "text")}  # fmt: skip
    both = accuracy(trained(["audio", "text"], train, train_labels), test, test_labels)
    assert max(alone.values()) <= 0.8 and both >= 0.95  # each alone: 3 of 4 classes at best


def test_refitted_weights_silence_a_noise_modality_on_held_out_clips():
    rng = np.random.default_rng(1)
    train, train_labels = split_labels(200, rng)
    held, held_labels = split_labels(200, rng)
    test, test_labels = split_labels(200, rng)
    fusion = trained(["audio", "text", "noise"], train, train_labels)
    weights = fusion.fit_weights({n: held[n] for n in fusion.sizes}, held_labels)
    assert weights.sum().item() == pytest.approx(1.0)
    assert dict(zip(fusion.sizes, weights.tolist()))["noise"] < 0.1
    clean = trained(["audio", "text"], train, train_labels)
    assert accuracy(fusion, test, test_labels) >= accuracy(clean, test, test_labels) - 0.02


def test_the_output_is_the_log_of_the_weighted_average_of_probabilities():
    fusion = LateFusion(sizes={"a": 2, "b": 5}, num_classes=3).eval()
    with torch.no_grad():
        fusion.weight_logits.copy_(torch.tensor([0.3, -1.0]))
    pooled = {"a": torch.randn(4, 2), "b": torch.randn(4, 5)}
    with torch.no_grad():
        each = [torch.softmax(fusion.classifiers[n](pooled[n]), dim=-1) for n in ("a", "b")]
        weights = torch.softmax(torch.tensor([0.3, -1.0]), 0)
        expected = weights[0] * each[0] + weights[1] * each[1]
        torch.testing.assert_close(fusion(pooled).exp(), expected)
    with pytest.raises(ValueError, match="two classes"):
        LateFusion(sizes={"a": 2}, num_classes=1)
