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


def save_tiny_ct2_whisper(folder: str | Path, word: str = "x") -> Path:
    """A tiny random English-only Whisper converted to CTranslate2, with a byte-level
    tokenizer holding Whisper's special tokens: what faster-whisper loads. Its decoder always
    transcribes ``word`` (one byte) and stops. (CTranslate2 reads a tiny vocabulary as
    English-only, so language detection is measured on the real model in the benchmark.)"""
    import ctranslate2
    import tokenizers
    import torch
    import transformers
    from tokenizers import decoders, models, pre_tokenizers

    folder = Path(folder)
    source = folder / "hf"
    source.mkdir(parents=True, exist_ok=True)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = tokenizers.Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)},
                                                merges=[]))  # fmt: skip
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|de|>", "<|translate|>",
                "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>",
                "<|notimestamps|>", *(f"<|{i * 0.02:.2f}|>" for i in range(1501))]  # fmt: skip
    tokenizer.add_special_tokens(specials)
    tokenizer.save(str(source / "tokenizer.json"))
    (source / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "WhisperTokenizer", "bos_token": "<|endoftext|>", '
        '"eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", '
        '"pad_token": "<|endoftext|>", "model_max_length": 448}'
    )
    start, end = (
        tokenizer.token_to_id("<|startoftranscript|>"),
        tokenizer.token_to_id("<|endoftext|>"),
    )
    config = transformers.WhisperConfig(
        vocab_size=tokenizer.get_vocab_size(), num_mel_bins=80, d_model=16, encoder_layers=1,
        decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, max_source_positions=1500,
        max_target_positions=448, decoder_start_token_id=start, bos_token_id=end,
        eos_token_id=end, pad_token_id=end, suppress_tokens=[], begin_suppress_tokens=[end],
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(config)
    with torch.no_grad():  # the decoder says `word` and stops, whatever it hears: quick
        decoder = model.model.decoder
        decoder.layer_norm.weight.zero_()
        direction = torch.randn(16)
        decoder.layer_norm.bias.copy_(direction)  # every step's output is `direction`
        table = decoder.embed_tokens.weight  # tied to the output projection
        table.mul_(0.01)
        table[end] = 10 * direction  # first choice, but not allowed as the first token
        table[tokenizer.token_to_id(word)] = 5 * direction
    model.save_pretrained(source)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(source)
    ctranslate2.converters.TransformersConverter(
        str(source), copy_files=["tokenizer.json", "preprocessor_config.json"]
    ).convert(str(folder / "ct2"), force=True)
    return folder / "ct2"
