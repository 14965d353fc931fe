"""Several upstreams as one utterance-level vector (feature-level early fusion)."""

import numpy as np
import pytest

from emotransfer.features.logmel import LogMel
from emotransfer.features.stack import StackedUpstream, pool_frames


def test_the_stack_is_each_part_pooled_then_concatenated():
    wave = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    stack = StackedUpstream(upstreams=[{"name": "logmel", "params": {"num_mels": 8}},
                                       {"name": "logmel", "params": {"num_mels": 4}}],
                            pooling="mean_std")  # fmt: skip
    out = stack.extract(wave)
    first, second = LogMel(num_mels=8).extract(wave)[0], LogMel(num_mels=4).extract(wave)[0]
    expected = np.concatenate([first.mean(0), first.std(0), second.mean(0), second.std(0)])
    assert out.shape == (1, 1, 24)
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-5)
    identity = stack.identity()
    assert identity["upstream"] == "stack" and len(identity["parts"]) == 2
    assert identity["parts"][1]["num_mels"] == 4


def test_stats_pooling_keeps_a_short_event_that_the_mean_dilutes():
    frames = np.zeros((100, 2), dtype=np.float32)
    frames[40:42, 0] = 5.0
    pooled = pool_frames(frames, "stats")  # mean, std, max, min
    assert pooled.shape == (8,) and pooled[4] == 5.0 and pooled[0] == pytest.approx(0.1)
    one = pool_frames(frames[40:41], "stats")  # one frame: the same size, std 0
    assert one.tolist() == [5.0, 0.0, 0.0, 0.0, 5.0, 0.0, 5.0, 0.0]


@pytest.mark.parametrize("options, message", [
    ({"upstreams": [{"name": "logmel"}], "pooling": "median"}, "pooling"),
    ({"upstreams": [{"name": "logmel", "pooling": "max"}]}, "pooling"),
    ({"upstreams": []}, "list of"),
    ({"upstreams": [{"name": "stack", "params": {}}]}, "another stack"),
    ({"upstreams": [{"name": "logmel", "params": {"sample_rate": 8000}}, {"name": "logmel"}]},
     "different sample rates"),
])  # fmt: skip
def test_bad_stacks_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        StackedUpstream(**options)
