"""Attentive modality hopping (Yoon et al. 2020) as a frame-level fusion."""

import pytest
import torch
from tests.bodies import fusion_alone_and_padded
from tests.models.test_attention_fusion import accuracy, pointer_task

from emotransfer.models.modality_hopping import ModalityHopping


def test_hopping_lets_the_words_pick_the_audio_frame_that_matters():
    generator = torch.Generator().manual_seed(0)
    train, test = pointer_task(generator), pointer_task(generator)
    torch.manual_seed(0)
    hopped = accuracy(ModalityHopping(sizes={"audio": 9, "text": 8}, size=16, hops=1), train, test)
    torch.manual_seed(0)
    means = accuracy(ModalityHopping(sizes={"audio": 9, "text": 8}, size=16, hops=0), train, test)
    assert hopped >= 0.9 and means <= 0.7


def test_padding_gets_no_weight_and_a_clip_is_the_same_alone_or_in_a_batch():
    torch.manual_seed(1)
    fusion = ModalityHopping(sizes={"audio": 3, "text": 2}, size=4, hops=3)
    together, alone = fusion_alone_and_padded(fusion)
    torch.testing.assert_close(together[:1], alone)
    assert together.shape == (2, 8) and fusion.output_size == 8


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="hops"):
        ModalityHopping(sizes={"audio": 3}, hops=-1)
