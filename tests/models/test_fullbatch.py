import pytest
import torch

from emotransfer.models.fullbatch import fit_full_batch


def test_one_loss_call_per_step_and_the_losses_come_back():
    weight = torch.nn.Parameter(torch.tensor([0.0]))
    calls = []

    def loss():
        calls.append(float(weight))
        return ((weight - 2.0) ** 2).sum()

    losses = fit_full_batch(loss, [weight], steps=5, learning_rate=0.5, optimizer="adam")
    assert len(calls) == 5 and losses[0] == pytest.approx(4.0)
    assert calls[1] > calls[0]  # each call sees the previous step's update
    assert fit_full_batch(loss, [weight], steps=0, learning_rate=0.5) == []


def test_matches_a_hand_written_adamw_loop_and_honours_parameter_groups():
    def problem():
        torch.manual_seed(0)
        layer = torch.nn.Linear(3, 2)
        inputs, targets = torch.randn(8, 3), torch.tensor([0, 1] * 4)
        return layer, inputs, targets

    layer, inputs, targets = problem()
    groups = [{"params": [layer.weight], "weight_decay": 0.1}, {"params": [layer.bias]}]
    optimizer = torch.optim.AdamW(groups, lr=0.05, weight_decay=0.0)
    for _ in range(10):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(layer(inputs), targets).backward()
        optimizer.step()
    expected = layer.weight.detach().clone()
    layer, inputs, targets = problem()
    fit_full_batch(
        lambda: torch.nn.functional.cross_entropy(layer(inputs), targets),
        [{"params": [layer.weight], "weight_decay": 0.1}, {"params": [layer.bias]}],
        steps=10,
        learning_rate=0.05,
    )
    assert torch.equal(layer.weight.detach(), expected)


def test_modules_train_during_the_loop_and_evaluate_after():
    network = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).eval()
    modes = []

    def loss():
        modes.append(network.training)
        return network(torch.ones(4, 2)).sum()

    fit_full_batch(loss, network.parameters(), steps=2, learning_rate=0.1, modules=[network])
    assert modes == [True, True] and not network.training
