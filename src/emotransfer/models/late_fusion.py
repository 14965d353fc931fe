"""Late (decision-level) fusion: each modality decides on its own, their class probabilities
are averaged with weights.

Per modality ``m`` a classifier (layer norm, dropout, linear) on its pooled vector ``(B, P_m)``
gives probabilities ``p_m``; the fusion returns ``log(sum_m w_m p_m)`` ``(B, C)``, the
log-probabilities of the weighted average, which the model uses as its logits (``decides =
True``: the model adds no classifier of its own). The weights ``w = softmax(a)`` train with the
model; :meth:`LateFusion.fit_weights` refits them alone on held-out clips with the modality
classifiers fixed, which the training loop does on a fold's validation speakers (its inner
split: ``finetune.validation_folds``), so the weights come from clips the classifiers never
trained on. A modality that is noise gets a small weight and cannot pull a confident modality's
decision far.

Example:
    >>> fusion = LateFusion(sizes={"audio": 4, "text": 3}, num_classes=2)
    >>> pooled = {"audio": torch.randn(5, 4), "text": torch.randn(5, 3)}
    >>> fusion(pooled).exp().sum(dim=1).allclose(torch.ones(5)), fusion.weights().tolist()
    (True, [0.5, 0.5])
"""

from __future__ import annotations

import torch

from emotransfer.models.fusion import Fusion


class LateFusion(Fusion):
    """Weighted average of per-modality class probabilities, as log-probabilities ``(B, C)``.

    Args:
        sizes: modality -> pooled size ``P_m``.
        num_classes: ``C`` (given by the model: this fusion decides).
        dropout: before each modality's classifier.
    """

    decides = True

    def __init__(self, *, sizes: dict[str, int], num_classes: int, dropout: float = 0.1) -> None:
        super().__init__(sizes=sizes)
        if num_classes < 2:
            raise ValueError(f"late fusion needs at least two classes, got {num_classes}")
        self.num_classes = num_classes
        self.output_size = num_classes
        self.classifiers = torch.nn.ModuleDict({
            name: torch.nn.Sequential(torch.nn.LayerNorm(size), torch.nn.Dropout(dropout),
                                      torch.nn.Linear(size, num_classes))
            for name, size in self.sizes.items()
        })  # fmt: skip
        self.weight_logits = torch.nn.Parameter(torch.zeros(len(self.sizes)))

    def weights(self) -> torch.Tensor:
        """``(M,)``: each modality's weight, in modality-name order (they sum to one)."""
        return torch.softmax(self.weight_logits, dim=0)

    def modality_log_probabilities(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, M, C)``: each modality's own class log-probabilities."""
        return torch.stack([torch.log_softmax(self.classifiers[name](pooled[name]), dim=-1)
                            for name in self.sizes], dim=1)  # fmt: skip

    def combine(self, log_probabilities: torch.Tensor) -> torch.Tensor:
        """``(B, M, C)`` -> ``(B, C)``: log of the weighted average of the probabilities."""
        log_weights = torch.log_softmax(self.weight_logits, dim=0)[None, :, None]
        return torch.logsumexp(log_probabilities + log_weights, dim=1)

    def forward(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.combine(self.modality_log_probabilities(pooled))

    @torch.no_grad()
    def fit_weights(
        self, pooled: dict[str, torch.Tensor], labels: torch.Tensor, *, steps: int = 200
    ) -> torch.Tensor:  # fmt: skip
        """Refit the weights alone to the held-out clips ``pooled`` with ``labels`` ``(N,)``
        (the log-likelihood of the weighted average, the classifiers fixed). Returns them."""
        was_training = self.training
        self.eval()
        log_probabilities = self.modality_log_probabilities(pooled).float()
        labels = torch.as_tensor(labels, dtype=torch.long, device=log_probabilities.device)
        chosen = log_probabilities[torch.arange(len(labels)), :, labels]  # (N, M)
        logits = torch.zeros_like(self.weight_logits, dtype=torch.float32).requires_grad_(True)
        optimizer = torch.optim.LBFGS([logits], lr=0.5, max_iter=steps)

        def loss() -> torch.Tensor:
            optimizer.zero_grad()
            with torch.enable_grad():
                value = -torch.logsumexp(chosen + torch.log_softmax(logits, 0), dim=1).mean()
                value.backward()
            return value

        with torch.enable_grad():
            optimizer.step(loss)
        self.weight_logits.copy_(logits.detach().to(self.weight_logits))
        self.train(was_training)
        return self.weights()
