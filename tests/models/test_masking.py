"""SpecAugment-style masking in front of a body: training only, within the real frames."""

import pytest
import torch

from emotransfer.models.masking import SpecAugmentBody


def test_masks_replace_bands_and_stretches_by_the_clips_mean_while_training_only():
    body = SpecAugmentBody(input_size=10, freq_masks=1, freq_width=3, time_masks=1,
                           time_width=50)  # fmt: skip
    frames = torch.arange(2 * 40 * 10, dtype=torch.float32).reshape(2, 40, 10)
    mask = torch.arange(40)[None] < torch.tensor([[40], [25]])
    torch.manual_seed(0)
    masked = body.train().masked(frames, mask)
    changed = masked != frames
    assert changed.any()
    assert (masked[1, 25:] == frames[1, 25:]).all()  # padding untouched
    for row, real in ((0, 40), (1, 25)):
        columns = changed[row, :real].all(0).sum()  # a band: every real frame of some rows
        stretch = changed[row, :real].all(1).sum()  # a stretch: every row of some frames
        assert columns <= 3 and stretch <= real // 5
        mean = frames[row, :real].mean(0)
        torch.testing.assert_close(masked[row][changed[row]],
                                   mean.expand(40, 10)[changed[row]])  # fmt: skip
    body.eval()
    out, _ = body(frames, mask)
    torch.testing.assert_close(out, frames)  # identity body, nothing masked in eval


def test_a_seed_fixes_the_masks_and_the_wrapped_body_sees_them():
    body = SpecAugmentBody(input_size=6, body="mscnn", body_params={"channels": 2, "layers": 1},
                           time_masks=2, time_width=5, freq_masks=2, freq_width=2)  # fmt: skip
    body.train()
    frames, mask = torch.randn(3, 30, 6), torch.ones(3, 30, dtype=torch.bool)
    torch.manual_seed(1)
    first = body.masked(frames, mask)
    torch.manual_seed(1)
    assert torch.equal(body.masked(frames, mask), first)
    assert body.output_size == 6 and body(frames, mask)[0].shape == (3, 30, 6)


@pytest.mark.parametrize("options, message", [({"freq_width": -1}, ">= 0"),
                                              ({"body": "specaugment"}, "another")])  # fmt: skip
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        SpecAugmentBody(input_size=4, **options)
