"""Losses: concordance (CCC) loss for dimensional targets, masked for missing labels.

Example:
    >>> import torch
    >>> truth = torch.tensor([1.0, 2.0, 3.0, float("nan")])
    >>> round(float(ccc_loss(truth.nan_to_num(), truth)), 4)
    0.0
"""

from __future__ import annotations

import torch


def ccc_loss(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``1 - CCC`` over the rows whose ``truth`` is not NaN (0 when fewer than 2 rows)."""
    known = ~torch.isnan(truth)
    if int(known.sum()) < 2:
        return prediction.sum() * 0.0
    x, y = prediction[known], truth[known]
    covariance = ((x - x.mean()) * (y - y.mean())).mean()
    denominator = x.var(unbiased=False) + y.var(unbiased=False) + (x.mean() - y.mean()) ** 2
    return 1.0 - 2.0 * covariance / denominator.clamp(min=1e-8)


def balanced_class_weights(targets: torch.Tensor, classes: int | None = None) -> torch.Tensor:
    """Cross-entropy class weights inversely proportional to class frequency (mean 1 when
    every class occurs); an absent class counts as one row."""
    counts = torch.bincount(targets, minlength=classes or 0).clamp(min=1).float()
    return counts.sum() / (len(counts) * counts)


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over rows with a label (``labels >= 0``; -1 marks a missing label)."""
    known = labels >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0
    return torch.nn.functional.cross_entropy(logits[known], labels[known])
