"""Per-feature standardisation of pooled vectors ``(B, F)``: batch normalisation that also
takes a batch of one clip.

While training, each feature is standardised with the batch's mean and variance (with
speaker batches, one speaker's: the trained counterpart of a probe's per-speaker z-score)
and running statistics are kept; when predicting, the running statistics are used, so a
clip's output depends on the clip alone. A training batch of a single clip (the last batch
of an epoch, a speaker with one clip) is standardised with the running statistics instead of
failing.

Example:
    >>> norm = FeatureNorm(3)
    >>> out = norm(torch.randn(8, 3) * 10 + 5)
    >>> bool(out.mean(0).abs().max() < 1e-4), tuple(norm(torch.randn(1, 3)).shape)
    (True, (1, 3))
"""

from __future__ import annotations

import torch


class FeatureNorm(torch.nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` over ``(B, F)`` that accepts ``B = 1`` in training."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.training and features.shape[0] < 2:
            return torch.nn.functional.batch_norm(
                features, self.running_mean, self.running_var, self.weight, self.bias,
                training=False, eps=self.eps,
            )  # fmt: skip
        return super().forward(features)
