import numpy as np
import pytest

from emotransfer.encoders.frames import FrameFeatures


def test_frames_are_the_one_hidden_state_with_their_mask(tmp_path):
    encoder = FrameFeatures(hidden_size=3, frame_rate=25.0)
    assert (encoder.modality, encoder.num_states, encoder.frame_rate) == ("video", 1, 25.0)
    assert not list(encoder.parameters())
    np.save(tmp_path / "clip.npy", np.full((2, 3), 7.0))
    output = encoder(encoder.prepare([np.ones((4, 3)), str(tmp_path / "clip.npy")]))
    assert output.states.shape == (2, 1, 4, 3) and output.mask.sum(dim=1).tolist() == [4, 2]
    assert output.states[1, 0, :2].eq(7.0).all() and output.states[1, 0, 2:].eq(0).all()


def test_frames_of_another_width_are_refused():
    with pytest.raises(ValueError, match=r"takes \(T, 3\) arrays"):
        FrameFeatures(hidden_size=3).prepare([np.ones((4, 5))])
    with pytest.raises(ValueError, match="hidden_size 0"):
        FrameFeatures(hidden_size=0)
