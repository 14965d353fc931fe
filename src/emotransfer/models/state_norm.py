"""Per hidden state, per feature standardisation before the layer mix.

The hidden states of a pretrained encoder have very different scales (whisper-base's last
states are several times larger than its first, and a few features of each dominate), so a
softmax-weighted sum of the raw states is mostly the largest state whatever the weights; the
frozen probe standardises every hidden state's features before it learns the mix. On EmoDB's
pooled whisper-base means (3 leave-one-speaker-out folds) the same mix and linear head score
0.933 on raw states and 0.960-0.962 on standardised ones (``benchmarks/RESULTS.md``).

:class:`StateNorm` keeps, for every hidden state and feature, the mean and variance of all
the values it has seen while training (frames, or pooled statistics; padded frames excluded)
as an exact running total, and always standardises with those statistics (also while
training, from the first batch on, after adding the batch): a clip's output depends on the
clip alone, training and prediction compute the same function, and with a frozen encoder the
statistics after one epoch are those of every training frame.

Example:
    >>> norm = StateNorm(num_states=2, size=3)
    >>> states = torch.randn(4, 2, 5, 3) * torch.tensor([1.0, 50.0])[:, None, None]
    >>> out = norm(states, torch.ones(4, 5, dtype=torch.bool))
    >>> [round(float(v), 1) for v in out.std(dim=(0, 2, 3))]
    [1.0, 1.0]
"""

from __future__ import annotations

import torch


class StateNorm(torch.nn.Module):
    """``(B, S, T, D)`` frames with a ``(B, T)`` mask, or ``(B, S, P)`` pooled statistics ->
    the same shape, each of the ``S`` states' features standardised (see the module).

    Args:
        num_states: ``S`` (``L + 1``).
        size: ``D`` or ``P``, the last axis.
        eps: added to the variance.
    """

    def __init__(self, *, num_states: int, size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(num_states, size))
        self.register_buffer("variance", torch.ones(num_states, size))

    @torch.no_grad()
    def update(self, states: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Add the real values of a batch to the running mean and variance (exact totals:
        Chan et al.'s parallel update)."""
        values = states.float()
        if values.dim() == 4:  # (B, S, T, D) -> (S, N, D) over the real frames
            real = (mask.bool() if mask is not None
                    else torch.ones(values.shape[0], values.shape[2], dtype=torch.bool,
                                    device=values.device))  # fmt: skip
            values = values.transpose(1, 2)[real].transpose(0, 1)
        else:  # (B, S, P)
            values = values.transpose(0, 1)
        added = values.shape[1]
        if added == 0:
            return
        mean, variance = values.mean(1), values.var(1, unbiased=False)
        total = self.count + added
        delta = mean - self.mean
        combined = (self.variance * self.count + variance * added
                    + delta**2 * self.count * added / total) / total  # fmt: skip
        self.mean += delta * added / total
        self.variance.copy_(combined)
        self.count.fill_(float(total))

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            self.update(states, mask)
        shape = (1, self.mean.shape[0], *([1] if states.dim() == 4 else []), -1)
        mean = self.mean.view(shape).to(states.dtype)
        scale = (self.variance + self.eps).rsqrt().view(shape).to(states.dtype)
        return (states - mean) * scale
