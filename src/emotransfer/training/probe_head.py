"""The weighted-sum probe's recipe for a trained model's head: full-batch steps on pooled
frozen states, the classifier's weight decay chosen on inner speaker folds.

The frozen probe (``head: layer_sum``) fits its layer mix and linear classifier on the
pooled states of every training clip at once (AdamW, a high learning rate, about a hundred
steps) and picks the classifier's weight decay on speaker-grouped inner splits of the
training fold; the training loop's minibatch epochs on the same architecture lose several
points to it on EmoDB. :func:`fit_head_like_probe` gives a trained model's head (layer mix,
pooling outputs' normalisation and classifier; :meth:`EmotionModel.decide`) that start, so
an LP-FT run (:class:`~emotransfer.training.lpft.LPFTTrainer` with ``recipe="probe"``) begins
fine-tuning from the probe's solution rather than from a minibatch head.

Only the parameters after pooling train here (``pooled`` is computed once); the outer test
speakers never take part: the inner splits are of the training speakers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from emotransfer.data.splits import inner_splits
from emotransfer.evaluation.metrics import uar
from emotransfer.models.emotion_model import EmotionModel, ModelOutput

#: The classifier's weight decays tried on the inner folds (the layer_sum probe's grid).
WEIGHT_DECAYS = (1e-3, 1e-1)

Loss = Callable[[ModelOutput, np.ndarray], torch.Tensor]


def head_state(model: EmotionModel) -> dict[str, torch.Tensor]:
    """A copy of everything but the encoders (what :func:`fit_steps` may change)."""
    return {name: value.detach().clone() for name, value in model.state_dict().items()
            if not name.startswith("encoders.")}  # fmt: skip


def fit_steps(
    model: EmotionModel, pooled: Mapping[str, torch.Tensor], rows: np.ndarray,
    speakers: torch.Tensor | None, loss: Loss, *, steps: int, learning_rate: float,
    weight_decay: float,
) -> float:  # fmt: skip
    """``steps`` full-batch AdamW steps of the parameters after pooling on ``rows``: the
    layer mixes without weight decay (as the probe's), the classifier with ``weight_decay``,
    the rest (norms, stand-ins, a fusion) with none. Returns the last step's loss."""
    classifier = {id(p) for p in model.classifier.parameters()}
    mixes = {id(p) for p in model.mixes.parameters()}
    others = [p for p in model.head_parameters() if id(p) not in classifier | mixes]
    optimizer = torch.optim.AdamW([
        {"params": list(model.classifier.parameters()), "weight_decay": weight_decay},
        {"params": list(model.mixes.parameters()), "weight_decay": 0.0},
        {"params": others, "weight_decay": 0.0},
    ], lr=learning_rate)  # fmt: skip
    inputs = {name: value[rows] for name, value in pooled.items()}
    ids = None if speakers is None else speakers[rows]
    model.train()
    value = torch.zeros(())
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss(model.decide(inputs, ids), rows)
        value.backward()
        optimizer.step()
    model.eval()
    return float(value.detach())


@torch.no_grad()
def inner_uar(model: EmotionModel, pooled: Mapping[str, torch.Tensor], rows: np.ndarray,
              speakers: torch.Tensor | None, labels: np.ndarray) -> float:  # fmt: skip
    """UAR of ``rows`` (each normalised by its own speaker's mean, as a test speaker is)."""
    model.eval()
    ids = None if speakers is None else speakers[rows]
    output = model.decide({name: value[rows] for name, value in pooled.items()}, ids)
    guess = output.logits.argmax(-1).cpu().numpy()
    return uar(labels[rows], guess, int(model.num_classes))


def fit_head_like_probe(
    model: EmotionModel, pooled: Mapping[str, torch.Tensor], labels: np.ndarray,
    groups: np.ndarray, speakers: torch.Tensor | None, loss: Loss, *, steps: int = 120,
    learning_rate: float = 1e-2, weight_decays: Sequence[float] = WEIGHT_DECAYS,
    folds: int = 5, seed: int = 0,
) -> tuple[float, float]:  # fmt: skip
    """Choose the classifier's weight decay on inner speaker folds, then fit the head on
    every row with it; returns ``(weight_decay, last loss)``.

    Args:
        pooled: :meth:`EmotionModel.pool` of every training clip (``{m: (N, ...)}``).
        labels: ``(N,)`` classes; ``groups``: ``(N,)`` speakers (the inner folds' groups).
        speakers: ``(N,)`` integer speaker ids for a speaker-normalised model, else ``None``.
        loss: ``loss(output, rows)``: the training loss of ``rows``' output.
        steps, learning_rate: full-batch AdamW steps and rate (the probe's 120 and 1e-2).
        weight_decays: the grid; one value is used without inner folds.
        folds: inner folds (at most the training speakers).
    """
    start = head_state(model)
    every = np.arange(len(labels))
    choices = list(weight_decays)
    if len(choices) > 1 and len(np.unique(groups)) >= 2:
        scores = np.zeros(len(choices))
        for train, valid in inner_splits(groups, labels, folds=folds, seed=seed):
            for i, decay in enumerate(choices):
                model.load_state_dict(start, strict=False)
                fit_steps(model, pooled, train, speakers, loss, steps=steps,
                          learning_rate=learning_rate, weight_decay=decay)  # fmt: skip
                scores[i] += inner_uar(model, pooled, valid, speakers, labels)
        choices = [choices[int(np.argmax(scores))]]
    model.load_state_dict(start, strict=False)
    last = fit_steps(model, pooled, every, speakers, loss, steps=steps,
                     learning_rate=learning_rate, weight_decay=choices[0])  # fmt: skip
    return choices[0], last
