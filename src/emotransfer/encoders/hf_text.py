"""Any transformers text encoder (BERT, RoBERTa, MiniLM, DistilBERT ...) as a trainable
:class:`~emotransfer.encoders.base.Encoder` of the ``text`` modality: every hidden state of
the tokens.

Shapes: ``prepare(texts)`` -> ``{"input_ids" (B, T), "attention_mask" (B, T), ...}`` (the
tokenizer's tensors, at most ``max_tokens`` tokens each); ``forward`` -> states
``(B, L + 1, T, D)`` (the embedding output, then each layer's) and mask ``(B, T)`` (real
tokens). The strategies act on it as on an audio encoder: ``front_end_parameters`` are the
embeddings, ``blocks`` the transformer layers, ``adaptable`` the model LoRA edits.

Example (a tiny random BERT made here; a real one is a folder or hub id, e.g.
``sentence-transformers/all-MiniLM-L6-v2``):
    >>> import tempfile
    >>> from transformers import BertConfig, BertModel, BertTokenizerFast
    >>> folder = tempfile.mkdtemp()
    >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "calm", "furious"]
    >>> vocab = {word: number for number, word in enumerate(words)}
    >>> _ = BertTokenizerFast(vocab=vocab).save_pretrained(folder)
    >>> config = BertConfig(vocab_size=7, hidden_size=8, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=16)
    >>> BertModel(config).save_pretrained(folder)
    >>> encoder = HFTextEncoder(model=folder)
    >>> output = encoder(encoder.prepare(["calm", "furious calm"]))
    >>> tuple(output.states.shape), output.mask.sum(dim=1).tolist()
    ((2, 3, 4, 8), [3, 4])
"""

from __future__ import annotations

import torch

from emotransfer.encoders.base import Encoder, EncoderOutput, module_list
from emotransfer.features.text import hidden_states, load_text_model, tokenize

# Where the transformer layers sit, per architecture family (BERT, DistilBERT, others).
BLOCKS = ("encoder.layer", "transformer.layer", "layers", "encoder.layers")


class HFTextEncoder(Encoder):
    """A transformers text encoder with gradients (float32; mixed precision is the Trainer's).

    Args:
        model: a local model folder or a hub id (tokenizer and model).
        max_tokens: longer texts are truncated to this many tokens.
        revision: hub revision.
        trust_remote_code: allow model code from the hub (the caller's decision).
        random_init: the architecture with seeded random weights (no pre-training).
        seed: the random weights' seed (``random_init``).
    """

    modality = "text"

    def __init__(
        self,
        *,
        model: str,
        max_tokens: int = 128,
        revision: str | None = None,
        trust_remote_code: bool = False,
        random_init: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if max_tokens < 2:
            raise ValueError(f"max_tokens {max_tokens}: at least 2 (the special tokens)")
        self.model = model
        self.max_tokens = max_tokens
        self.trust_remote_code = trust_remote_code
        self.tokenizer, self.module = load_text_model(
            model, revision=revision, trust_remote_code=trust_remote_code,
            random_init=random_init, seed=seed,
        )  # fmt: skip
        config = self.module.config
        self.num_layers = int(config.num_hidden_layers)
        self.hidden_size = int(config.hidden_size)
        self.frame_rate = 0.0  # tokens, not time

    def prepare(self, items: list[str]) -> dict[str, torch.Tensor]:
        return tokenize(self.tokenizer, items, self.max_tokens)

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:  # type: ignore[override]
        return EncoderOutput(*hidden_states(self.module, batch))

    def blank_item(self) -> str:
        return ""  # the tokenizer's special tokens alone

    def front_end_parameters(self) -> list[torch.nn.Parameter]:
        embeddings = getattr(self.module, "embeddings", None)
        return list(embeddings.parameters()) if isinstance(embeddings, torch.nn.Module) else []

    def blocks(self) -> list[torch.nn.Module]:
        return module_list(self.module, BLOCKS, self.model)

    def adaptable(self) -> torch.nn.Module:
        return self.module
