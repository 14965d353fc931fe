"""The attention block (Peng et al. 2021) as a frame-level fusion: one modality's summary
selects the other's frames."""

import torch
from tests.bodies import fusion_alone_and_padded

from emotransfer.models.attention_fusion import CrossAttentionFusion
from emotransfer.models.fusion import ConcatFusion


def pointer_task(generator, rows=256, kinds=8):
    """Each audio clip has one frame of each of ``kinds`` kinds (a one-hot code, in random
    order) and noise in feature 0; the text (one token) names a kind, and the label is the
    sign of feature 0 in the frame of that kind: only attention led by the text finds it."""
    order = torch.argsort(torch.rand(rows, kinds, generator=generator), dim=1)
    codes = torch.nn.functional.one_hot(order, kinds).float()  # (rows, frames, kinds)
    audio = torch.cat([torch.randn(rows, kinds, 1, generator=generator), codes], dim=-1)
    named = torch.randint(kinds, (rows,), generator=generator)
    frame = (order == named[:, None]).float().argmax(1)
    labels = (audio[torch.arange(rows), frame, 0] > 0).long()
    text = torch.nn.functional.one_hot(named, kinds).float()[:, None, :]
    ones = torch.ones(rows, kinds, dtype=torch.bool)
    return {"audio": (audio, ones), "text": (text, ones[:, :1])}, labels


def accuracy(fusion, train, test, steps=300):
    torch.manual_seed(0)
    head = torch.nn.Linear(fusion.output_size, 2)
    parts = torch.nn.ModuleList([fusion, head])
    optimizer = torch.optim.Adam(parts.parameters(), lr=0.01)

    def logits(inputs):
        if fusion.takes == "frames":
            return head(fusion(inputs))
        return head(fusion({name: frames.mean(1) for name, (frames, _) in inputs.items()}))

    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(logits(train[0]), train[1]).backward()
        optimizer.step()
    with torch.no_grad():
        return float((logits(test[0]).argmax(1) == test[1]).float().mean())


def test_the_other_modality_points_attention_to_the_frame_that_matters():
    generator = torch.Generator().manual_seed(0)
    train, test = pointer_task(generator), pointer_task(generator)
    sizes = {"audio": 9, "text": 8}
    torch.manual_seed(0)
    attended = accuracy(CrossAttentionFusion(sizes=sizes, attention_size=16), train, test)
    averaged = accuracy(ConcatFusion(sizes=sizes), train, test)
    assert attended >= 0.9 and averaged <= 0.7


def test_padded_frames_get_no_weight_and_a_clip_is_the_same_alone_or_in_a_batch():
    torch.manual_seed(1)
    fusion = CrossAttentionFusion(sizes={"audio": 3, "text": 2}, attention_size=4).eval()
    together, alone = fusion_alone_and_padded(fusion)
    torch.testing.assert_close(together[:1], alone)


def test_one_modality_attends_to_its_own_summary():
    fusion = CrossAttentionFusion(sizes={"audio": 5})
    frames = torch.randn(3, 6, 5)
    out = fusion({"audio": (frames, torch.ones(3, 6, dtype=torch.bool))})
    assert out.shape == (3, 10) and fusion.output_size == 10
    torch.testing.assert_close(out[:, :5], frames.mean(1))
