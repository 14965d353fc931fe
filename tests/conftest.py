"""Shared fixtures: a small synthetic corpus generated once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

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
    import torch
    import transformers

    folder = tmp_path_factory.mktemp("tiny_whisper")
    config = transformers.WhisperConfig(
        d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80,
        max_source_positions=1500, max_target_positions=16, vocab_size=64, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.WhisperModel(config).save_pretrained(folder, safe_serialization=True)
    transformers.WhisperFeatureExtractor().save_pretrained(folder)
    return str(folder)


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
