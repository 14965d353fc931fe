"""Fusion modules: several modalities -> one vector.

A fusion module declares what it takes (``takes``): ``"pooled"`` vectors (the default) or
``"frames"``, each modality's frame sequence with its mask (for cross-modal attention). It is
built with the sizes of its inputs (``sizes``: modality -> pooled size ``P_m``, or frame width
``D_m``), states its ``output_size`` and maps ``{modality: (B, P_m)}`` (or ``{modality:
((B, T_m, D_m), (B, T_m))}``) to ``(B, output_size)``. A new fusion is a class in its own file
plus one line in the ``fusion`` registry table, or a ``module:Class`` plugin.

Example:
    >>> import torch
    >>> fusion = ConcatFusion(sizes={"audio": 3, "text": 2})
    >>> fusion({"text": torch.ones(4, 2), "audio": torch.zeros(4, 3)}).shape, fusion.output_size
    (torch.Size([4, 5]), 5)
"""

from __future__ import annotations

import torch


class Fusion(torch.nn.Module):
    """Base class: ``sizes`` in, ``output_size`` out; takes pooled vectors."""

    takes = "pooled"

    def __init__(self, *, sizes: dict[str, int]) -> None:
        super().__init__()
        if not sizes:
            raise ValueError("fusion needs at least one input modality")
        self.sizes = dict(sorted(sizes.items()))
        self.output_size = sum(self.sizes.values())

    def forward(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError


class IdentityFusion(Fusion):
    """One modality: its pooled vector as it is."""

    def __init__(self, *, sizes: dict[str, int]) -> None:
        super().__init__(sizes=sizes)
        if len(self.sizes) != 1:
            raise ValueError(
                f"fusion 'identity' takes one modality, got {list(self.sizes)}: "
                "use fusion 'concat' (or another registered fusion) for several"
            )

    def forward(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        (vector,) = pooled.values()
        return vector


class ConcatFusion(Fusion):
    """Early fusion: the pooled vectors concatenated in modality-name order."""

    def forward(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([pooled[name] for name in self.sizes], dim=-1)
