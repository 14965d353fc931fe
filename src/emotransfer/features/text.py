"""Frozen text features: a transformers text encoder over a manifest column, through the
cache, for the frozen-feature pipeline (probes, SVM / ridge heads, layer analyses).

Per row, the encoder's ``L + 1`` hidden states of the text's tokens are pooled to per-layer
statistics ``(L + 1, 2, D)`` (mean and standard deviation over the real tokens, special
tokens included): the entry an audio upstream stores at the pooled level, so every frozen
head and analysis takes a text as it takes a clip. Entries are keyed by the text's digest in
a store of the encoder's identity (model folder name and a digest of its files, or hub id
and revision; ``max_tokens``; the transformers version) under the ``text`` modality, so two
rows with one text are encoded once, and a changed tokenizer or weight file is a new store.
Texts run in length-sorted batches with gradients off, in float32.

A row whose text is missing or blank is an error naming its file, never silently a zero
vector.

Example (a tiny random BERT, as :mod:`emotransfer.encoders.hf_text` shows):
    >>> import tempfile
    >>> from transformers import BertConfig, BertModel, BertTokenizerFast
    >>> folder = tempfile.mkdtemp()
    >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "calm", "furious"]
    >>> _ = BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}).save_pretrained(folder)
    >>> BertModel(BertConfig(vocab_size=7, hidden_size=8, num_hidden_layers=2,
    ...                      num_attention_heads=2, intermediate_size=16)).save_pretrained(folder)
    >>> upstream = TextUpstream(model=folder)
    >>> [s.shape for s in upstream.statistics(["calm", "furious calm"])]
    [(3, 2, 8), (3, 2, 8)]
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from emotransfer.data.manifest import blank_cells
from emotransfer.features.cache import FeatureCache, files_digest
from emotransfer.features.extract import Extraction, verified_entry

# The files of a model folder that change what it computes (weights, configs, tokenizer).
MODEL_FILES = ("*.safetensors", "*.bin", "*.json", "*.txt", "*.model")


class TextUpstream:
    """A frozen transformers text encoder (loaded on first use, the way the trainable
    :class:`~emotransfer.encoders.hf_text.HFTextEncoder` loads it) that gives each text's
    pooled hidden states.

    Args:
        model: a local model folder or a hub id (tokenizer and model).
        max_tokens: longer texts are truncated to this many tokens.
        batch_size: texts per forward pass.
        revision: hub revision.
        trust_remote_code: allow model code from the hub (the caller's decision).
    """

    def __init__(
        self, *, model: str, max_tokens: int = 128, batch_size: int = 32,
        revision: str | None = None, trust_remote_code: bool = False,
    ) -> None:  # fmt: skip
        self.model = model
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self._encoder: Any = None

    @property
    def encoder(self) -> tuple[Any, Any]:
        """The loaded tokenizer and model (in eval mode); a model that cannot load is a
        ``ValueError`` naming it."""
        if self._encoder is None:
            try:
                trust = self.trust_remote_code
                tokenizer, module = load_text_model(self.model, revision=self.revision,
                                                    trust_remote_code=trust)  # fmt: skip
            except (OSError, ValueError) as error:
                raise ValueError(f"cannot load the text model {self.model!r}: {error}") from None
            self._encoder = (tokenizer, module.eval())
        return self._encoder

    @property
    def num_layers(self) -> int:
        return int(self.encoder[1].config.num_hidden_layers)

    def identity(self) -> dict[str, Any]:
        """Everything that changes the output (see the module)."""
        import transformers

        folder = Path(self.model).expanduser()
        local = folder.is_dir()
        return {"upstream": "hf_text", "model": folder.resolve().name if local else self.model,
                "files": _folder_digest(folder) if local else None,
                "revision": None if local else (self.revision or "main"),
                "max_tokens": self.max_tokens,
                "transformers": transformers.__version__}  # fmt: skip

    @torch.no_grad()
    def statistics(self, texts: list[str]) -> list[np.ndarray]:
        """Per text, ``(L + 1, 2, D)``: each hidden state's mean and standard deviation over
        the text's real tokens (float32)."""
        tokenizer, module = self.encoder
        order = np.argsort([len(text) for text in texts], kind="stable")
        result: list[np.ndarray] = [np.empty(0)] * len(texts)
        for first in range(0, len(order), self.batch_size):
            rows = order[first : first + self.batch_size]
            batch = tokenize(tokenizer, [texts[i] for i in rows], self.max_tokens)
            states, mask = hidden_states(module, batch)
            weights = mask.float()[:, None, :, None]  # (B, 1, T, 1)
            count = weights.sum(2)
            mean = (states * weights).sum(2) / count  # (B, L + 1, D)
            spread = (((states - mean[:, :, None]) ** 2 * weights).sum(2) / count).sqrt()
            pooled = torch.stack([mean, spread], dim=2).float().numpy()  # (B, L + 1, 2, D)
            for position, row in enumerate(rows):
                result[row] = pooled[position]
        return result


def load_text_model(
    model: str, *, revision: str | None = None, trust_remote_code: bool = False,
    random_init: bool = False, seed: int = 0,
) -> tuple[Any, torch.nn.Module]:  # fmt: skip
    """A transformers tokenizer and text model (float32) from a folder or hub id; with
    ``random_init``, the architecture with weights seeded by ``seed``."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from emotransfer.seeding import torch_seed

    options: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
    tokenizer = AutoTokenizer.from_pretrained(model, **options)
    if random_init:
        with torch_seed(seed):
            config = AutoConfig.from_pretrained(model, **options)
            module = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    else:
        module = AutoModel.from_pretrained(model, **options)
    return tokenizer, module.float()


def tokenize(tokenizer: Any, texts: list[Any], max_tokens: int) -> dict[str, torch.Tensor]:
    """The tokenizer's padded tensors of ``texts`` (at most ``max_tokens`` tokens each)."""
    return dict(tokenizer([str(text) for text in texts], padding=True, truncation=True,
                          max_length=max_tokens, return_tensors="pt"))  # fmt: skip


def hidden_states(module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[Any, Any]:
    """Every hidden state of the tokens ``(B, L + 1, T, D)`` and the mask of real tokens
    ``(B, T)``."""
    output = module(**batch, output_hidden_states=True)
    return torch.stack(output.hidden_states, dim=1), batch["attention_mask"].bool()


def text_key(text: str) -> str:
    """The cache key of a text: a digest of its UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=20).hexdigest()


def row_texts(table: pd.DataFrame, column: str) -> list[str]:
    """The column's text of every row.

    Raises:
        ValueError: no such column, or rows without text (named by their file).
    """
    if column not in table:
        raise ValueError(f"the text input reads the manifest column {column!r}, which it does "
                         f"not have (columns: {sorted(table.columns)})")  # fmt: skip
    values = table[column]
    blank = blank_cells(values)
    if blank.any():
        files = table.loc[blank, "file"].astype(str).tolist() if "file" in table else []
        raise ValueError(f"{int(blank.sum())} row(s) have no text in column {column!r} (e.g. "
                         f"{files[:3]}): give every row its text, or set data.asr to "
                         "transcribe the clips without one")  # fmt: skip
    return values.astype(str).tolist()


def extract_text_features(
    table: pd.DataFrame, column: str, upstream: TextUpstream, cache_root: str | Path, *,
    progress: bool = False,
) -> Extraction:  # fmt: skip
    """The ``(L + 1, 2, D)`` statistics of every row's text, from the cache where present
    (each distinct text encoded once, then stored)."""
    began = time.perf_counter()
    texts = row_texts(table, column)
    cache = FeatureCache(root=cache_root, identity=upstream.identity(), modality="text")
    keys = [text_key(text) for text in texts]
    found: dict[str, np.ndarray] = {}
    corrupt = 0
    for key in dict.fromkeys(keys):
        entry, damaged = verified_entry(cache, key, "pooled")  # damaged: deleted, encoded again
        corrupt += damaged
        if entry is not None:
            found[key] = entry.array
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    text_of = dict(zip(keys, texts))
    chunks = range(0, len(missing), 256)
    for first in tqdm(chunks, desc="text", disable=not progress or not missing):
        batch = missing[first : first + 256]
        for key, array in zip(batch, upstream.statistics([text_of[k] for k in batch])):
            cache.put(key, array)
            found[key] = array
    arrays = [found[key].astype(np.float32) for key in keys]
    encoded = set(missing)
    hits = sum(key not in encoded for key in keys)
    return Extraction(arrays=arrays, hits=hits, misses=len(keys) - hits,  # type: ignore[arg-type]
                      corrupt=corrupt, seconds=time.perf_counter() - began)  # fmt: skip


def _folder_digest(folder: Path) -> str:
    files = sorted({f for pattern in MODEL_FILES for f in folder.glob(pattern) if f.is_file()})
    if not files:
        raise FileNotFoundError(f"text model folder {str(folder)!r} has no model files")
    return files_digest(files)
