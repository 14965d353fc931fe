"""Shared fixtures: a small synthetic corpus generated once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from tests.tiny_models import save_tiny_bert, save_tiny_whisper

from emotransfer.data.corpora.synthetic import SyntheticCorpus


@pytest.fixture(autouse=True, scope="session")
def torch_one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and with ``pytest -n 2`` each worker gets a
    core; spinning thread pools crawl on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("synthetic")
    SyntheticCorpus(root=root, num_speakers=4, utterances_per_emotion=4).load()
    return str(root)


@pytest.fixture(scope="session")
def synthetic_table(synthetic_root: str) -> pd.DataFrame:
    return SyntheticCorpus(root=synthetic_root, num_speakers=4, utterances_per_emotion=4).load()


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny randomly initialised Whisper model saved like a user's model folder."""
    return str(save_tiny_whisper(tmp_path_factory.mktemp("tiny_whisper")))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny randomly initialised BERT with a tokenizer of a few emotion words."""
    return str(save_tiny_bert(tmp_path_factory.mktemp("tiny_bert")))


@pytest.fixture(scope="session")
def tiny_wav2vec2(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny randomly initialised wav2vec2 model (layer-normed front end) saved to a folder."""
    import torch
    import transformers

    folder = tmp_path_factory.mktemp("tiny_wav2vec2")
    config = transformers.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.Wav2Vec2Model(config).save_pretrained(folder, safe_serialization=True)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True
                                          ).save_pretrained(folder)  # fmt: skip
    return str(folder)


@pytest.fixture(scope="session")
def tiny_asr(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random Whisper in CTranslate2 format (faster-whisper loads it)."""
    from tests.tiny_models import save_tiny_ct2_whisper

    return str(save_tiny_ct2_whisper(tmp_path_factory.mktemp("tiny_asr")))
