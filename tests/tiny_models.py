"""Tiny randomly initialised pretrained-model folders the tests make themselves (no hub)."""

from __future__ import annotations

from pathlib import Path


def save_tiny_whisper(folder: str | Path) -> Path:
    """A tiny random Whisper (2 encoder layers, d=32) saved like a user's model folder."""
    import torch
    import transformers

    config = transformers.WhisperConfig(
        d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80,
        max_source_positions=1500, max_target_positions=16, vocab_size=64, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.WhisperModel(config).save_pretrained(folder, safe_serialization=True)
    transformers.WhisperFeatureExtractor().save_pretrained(folder)
    return Path(folder)


def audio_model(folder: str | Path, **options):
    """An :class:`~emotransfer.models.emotion_model.EmotionModel` on the HF encoder in
    ``folder`` (``num_classes`` and the model's other options as keywords)."""
    from emotransfer.encoders.hf_audio import HFAudioEncoder
    from emotransfer.models.emotion_model import EmotionModel

    return EmotionModel(encoders={"audio": HFAudioEncoder(model=str(folder))}, **options)


# The words the tiny BERT knows (after its special tokens).
TINY_BERT_WORDS = ["furious", "livid", "enraged", "gloomy", "tearful", "downcast", "calm"]


def save_tiny_bert(folder: str | Path) -> Path:
    """A tiny random BERT (2 layers, d=16) with a WordPiece tokenizer of a few words."""
    import torch
    import transformers

    folder = Path(folder)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *TINY_BERT_WORDS]
    tokenizer = transformers.BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)})
    tokenizer.save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=64)  # fmt: skip
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder
