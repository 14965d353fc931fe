import torch

from emotransfer.seeding import torch_seed


def test_seeded_block_draws_like_manual_seed_and_restores_the_caller_state():
    torch.manual_seed(3)
    torch.rand(5)  # the caller is somewhere in its own stream
    state = torch.get_rng_state()
    with torch_seed(11):
        inside = torch.randn(4, 3)
        dropped = torch.nn.functional.dropout(torch.ones(50), p=0.5)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(11)
    assert torch.equal(torch.randn(4, 3), inside)
    assert torch.equal(torch.nn.functional.dropout(torch.ones(50), p=0.5), dropped)


def test_state_is_restored_when_the_block_raises():
    state = torch.get_rng_state()
    try:
        with torch_seed(0):
            torch.rand(3)
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert torch.equal(torch.get_rng_state(), state)
