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
