"""Shared checks for frame-level bodies and the runs of the architecture tests."""

import torch

from emotransfer.config import load_config


def alone_and_padded(body, width, short=6, long=11, seed=0):
    """A short clip's frames from ``body`` alone and padded in a batch with a longer one.

    Returns:
        ``(together, alone, mask, kept)``: the batch output, the short clip's own output, the
        batch mask and the mask the body returned.
    """
    generator = torch.Generator().manual_seed(seed)
    first = torch.randn(1, short, width, generator=generator)
    second = torch.randn(1, long, width, generator=generator)
    batch = torch.zeros(2, long, width)
    batch[0, :short], batch[1] = first[0], second[0]
    mask = torch.arange(long)[None] < torch.tensor([[short], [long]])
    with torch.no_grad():
        together, kept = body(batch, mask)
        alone, _ = body(first, torch.ones(1, short, dtype=torch.bool))
    return together, alone, mask, kept


def synthetic_run_config(tmp_path, root, name, *overrides):
    """A run on the synthetic corpus (4 speakers x 4 clips of anger and sadness: loud and
    bright against quiet and dark), with ``overrides`` for the model and training."""
    return load_config(None, overrides=[
        f"name={name}", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "data.labels.classes=[anger, sadness]", "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


def fusion_alone_and_padded(fusion, widths=(3, 2), seed=1):
    """A frame-level fusion's output for a clip with 4 audio and 2 text frames, alone and
    padded (with huge values) in a batch beside a longer clip: ``(together, alone)``."""
    generator = torch.Generator().manual_seed(seed)
    audio = torch.randn(2, 7, widths[0], generator=generator)
    text = torch.randn(2, 4, widths[1], generator=generator)
    audio_mask = torch.arange(7)[None] < torch.tensor([[4], [7]])
    text_mask = torch.arange(4)[None] < torch.tensor([[2], [4]])
    with torch.no_grad():
        alone = fusion({"audio": (audio[:1, :4], audio_mask[:1, :4]),
                        "text": (text[:1, :2], text_mask[:1, :2])})  # fmt: skip
        audio[0, 4:], text[0, 2:] = 1e6, -1e6  # padding can hold anything
        together = fusion({"audio": (audio, audio_mask), "text": (text, text_mask)})
    return together, alone
