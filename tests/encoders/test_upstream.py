import numpy as np
import pytest

from emotransfer.encoders.upstream import UpstreamEncoder
from emotransfer.registry import PluginError


def test_a_frozen_upstream_is_a_weightless_encoder():
    waves = [np.full(n, 0.01, np.float32) for n in (16000, 8000)]
    encoder = UpstreamEncoder(upstream="egemaps")
    output = encoder(encoder.prepare(waves))
    assert (encoder.num_layers, encoder.hidden_size, encoder.frame_rate) == (0, 88, 0.0)
    assert tuple(output.states.shape) == (2, 1, 1, 88) and output.mask.all()
    assert list(encoder.parameters()) == []


def test_an_upstream_class_path_needs_the_callers_permission():
    with pytest.raises(PluginError, match="is a class path"):
        UpstreamEncoder(upstream="subprocess:Popen")
