"""The exported kinds of the heads that are small networks (see
:mod:`emotransfer.models.export_kinds`): the MLP head, and the Linear -> ReLU stacks of DANN
and of the multitask head (whose dimension heads export beside its emotion path)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emotransfer.models.export_kinds import HeadArrays


class MLPArrays(HeadArrays):
    """The MLP head: Linear -> ReLU -> (dropout) -> Linear, then a softmax."""

    required = ("w1", "b1", "w2", "b2")

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        if not hasattr(head, "network_"):  # MLPHead: Linear -> ReLU -> Dropout -> Linear
            return None
        first, last = head.network_[0], head.network_[3]
        return {"w1": first.weight.detach().numpy().T, "b1": first.bias.detach().numpy(),
                "w2": last.weight.detach().numpy().T, "b2": last.bias.detach().numpy()}  # fmt: skip

    def bias(self) -> str:
        return "b2"

    def input_size(self) -> int:
        return int(self.arrays["w1"].shape[0])

    def logits(self, features: np.ndarray) -> np.ndarray:
        a = self.arrays
        hidden = np.maximum(features @ a["w1"] + a["b1"], 0.0)
        return hidden @ a["w2"] + a["b2"]

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(features @ self.tensor("w1") + self.tensor("b1"))
        return hidden @ self.tensor("w2") + self.tensor("b2")


class ReluStackArrays(HeadArrays):
    """Linear -> ReLU -> ... -> Linear layers ``w<i>, b<i>`` for ``i < depth``, then a softmax:
    DANN's extractor + emotion classifier, the multitask trunk + emotion head."""

    required = ("depth",)

    @staticmethod
    def export(head: Any) -> dict[str, np.ndarray] | None:
        layers = _relu_stack(head)
        if layers is None:
            return None
        arrays = {"depth": np.array([len(layers)])}
        for number, layer in enumerate(layers):
            arrays[f"w{number}"] = layer.weight.detach().numpy().T
            arrays[f"b{number}"] = layer.bias.detach().numpy()
        names = list(getattr(head, "dimensions_", []) or [])
        if names:  # a multitask head's dimension heads, on the same trunk as its emotion head
            heads = [head.heads_[f"dim_{name}"] for name in names]
            arrays["value_w"] = np.concatenate([h.weight.detach().numpy().T for h in heads], 1)
            arrays["value_b"] = np.concatenate([h.bias.detach().numpy() for h in heads])
            arrays["value_names"] = np.array(list("\n".join(names).encode()), dtype=np.uint8)
        return arrays

    def needed(self) -> list[str]:
        if "depth" not in self.arrays:
            return list(self.required)
        return [*self.required, *(f"{p}{i}" for i in range(self._depth()) for p in "wb")]

    def bias(self) -> str:
        return f"b{self._depth() - 1}"

    def input_size(self) -> int:
        return int(self.arrays["w0"].shape[0])

    def logits(self, features: np.ndarray) -> np.ndarray:
        depth = self._depth()
        for number in range(depth):
            features = features @ self.arrays[f"w{number}"] + self.arrays[f"b{number}"]
            if number < depth - 1:
                features = np.maximum(features, 0.0)
        return features

    def torch_logits(self, features: torch.Tensor) -> torch.Tensor:
        depth = self._depth()
        for number in range(depth):
            features = features @ self.tensor(f"w{number}") + self.tensor(f"b{number}")
            if number < depth - 1:
                features = torch.relu(features)
        return features

    def value_names(self) -> list[str]:
        if "value_names" not in self.arrays:
            return []
        return bytes(self.arrays["value_names"].astype(np.uint8)).decode().split("\n")

    def values(self, features: np.ndarray) -> np.ndarray:
        if "value_w" not in self.arrays:
            return super().values(features)
        for number in range(self._depth() - 1):  # the trunk the emotion head shares
            features = np.maximum(features @ self.arrays[f"w{number}"]
                                  + self.arrays[f"b{number}"], 0.0)  # fmt: skip
        return features @ self.arrays["value_w"] + self.arrays["value_b"]

    def _depth(self) -> int:
        return int(self.arrays["depth"][0])


def _relu_stack(head: Any) -> list | None:
    """The linear layers of a head that predicts with Linear -> ReLU -> ... -> Linear (dropout
    aside): DANN's extractor + emotion classifier, the multitask trunk + emotion head."""
    import torch

    from emotransfer.models.dann import DANNHead
    from emotransfer.models.multitask import MultitaskHead

    if isinstance(head, DANNHead):
        modules = [*head.module_.encoder, head.module_.classifier]
    elif isinstance(head, MultitaskHead):
        modules = [*head.trunk_, head.heads_["emotion"]]
    else:
        return None
    allowed = (torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout)
    if not all(isinstance(m, allowed) for m in modules):
        return None
    return [m for m in modules if isinstance(m, torch.nn.Linear)]
