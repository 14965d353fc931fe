"""Cross-modal key-sparse attention (Chen et al. 2022) as a frame-level fusion."""

import pytest
import torch
from tests.bodies import fusion_alone_and_padded
from tests.models.test_attention_fusion import accuracy, pointer_task

from emotransfer.models.key_sparse_fusion import KeySparseCrossFusion


def test_words_attend_to_the_few_audio_frames_that_matter():
    generator = torch.Generator().manual_seed(0)
    train, test = pointer_task(generator), pointer_task(generator)
    torch.manual_seed(0)
    # half the keys kept (4 of 8): with 1 or 2 the choice learns slowly here (only kept keys
    # get a gradient): 0.61 and 0.75 after 300 steps
    sparse = KeySparseCrossFusion(sizes={"audio": 9, "text": 8}, width=16, heads=1, top_k=4)
    assert accuracy(sparse, train, test) >= 0.9
    assert sparse.output_size == 16 * 4  # two means, two directions


def test_padding_is_never_a_key_and_a_clip_is_the_same_alone_or_in_a_batch():
    torch.manual_seed(1)
    fusion = KeySparseCrossFusion(sizes={"audio": 3, "text": 2}, width=4, heads=2, top_k=2)
    together, alone = fusion_alone_and_padded(fusion)
    torch.testing.assert_close(together[:1], alone)


@pytest.mark.parametrize("options, message", [
    ({"sizes": {"audio": 3}}, "two or more"), ({"width": 10, "heads": 4}, "divisible"),
    ({"top_k": 0}, "top_k"),
])  # fmt: skip
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        KeySparseCrossFusion(**{"sizes": {"audio": 3, "text": 2}, **options})
