"""HFEncoder on tiny random transformers models saved to disk, loaded as a user's folder."""

import json
import math
import pickle

import numpy as np
import pytest
import torch
import transformers
from safetensors.torch import save_file

from emotransfer import registry
from emotransfer.features.base import Upstream
from emotransfer.features.hf import HFEncoder

RATE = 16000
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
TINY_CONV = dict(
    conv_dim=(16, 16, 16),
    conv_kernel=(10, 3, 3),
    conv_stride=(5, 4, 4),  # 80 samples per frame: 200 frames/s
    conv_bias=True,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
WAVEFORM_MODELS = {
    "wav2vec2_group": (transformers.Wav2Vec2Config, {"feat_extract_norm": "group"}),
    "wav2vec2_layer": (
        transformers.Wav2Vec2Config,
        {"feat_extract_norm": "layer", "do_stable_layer_norm": True},
    ),
    "hubert": (transformers.HubertConfig, {"feat_extract_norm": "group"}),
    "wavlm": (transformers.WavLMConfig, {"feat_extract_norm": "layer"}),
    "data2vec": (transformers.Data2VecAudioConfig, {"num_conv_pos_embeddings": 5}),
}


def voice(seconds, f0=140.0, seed=0):
    """A harmonic 'voice' with vibrato plus a little noise."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * f0 * time + 3 * np.sin(2 * np.pi * 4 * time)
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    return (0.1 * wave + 0.01 * rng.standard_normal(time.size)).astype(np.float32)


def build_waveform_model(folder, name):
    torch.manual_seed(0)
    config_class, extra = WAVEFORM_MODELS[name]
    config = config_class(**{**TINY, **TINY_CONV, **extra})
    model = transformers.AutoModel.from_config(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    layer_norm = getattr(config, "feat_extract_norm", "layer") == "layer"
    transformers.Wav2Vec2FeatureExtractor(
        do_normalize=layer_norm, return_attention_mask=layer_norm
    ).save_pretrained(folder)
    return model


def whisper_config():
    return transformers.WhisperConfig(
        d_model=32,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
        num_mel_bins=80,
        max_source_positions=1500,
        max_target_positions=16,
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Folders of tiny models and the in-memory models they were saved from."""
    root = tmp_path_factory.mktemp("hf")
    built = {name: build_waveform_model(root / name, name) for name in WAVEFORM_MODELS}
    torch.manual_seed(0)
    whisper = transformers.WhisperModel(whisper_config()).eval()
    whisper.save_pretrained(root / "whisper", safe_serialization=True)
    transformers.WhisperFeatureExtractor().save_pretrained(root / "whisper")
    built["whisper"] = whisper
    # A full speech-to-text checkpoint keeps the encoder under ``model.encoder.*``.
    torch.manual_seed(1)
    generation = transformers.WhisperForConditionalGeneration(whisper_config()).eval()
    generation.save_pretrained(root / "whisper_generation", safe_serialization=True)
    built["whisper_generation"] = generation.model
    # An encoder-only export (keys ``encoder.*``, no preprocessor config), like the shared ones.
    encoder_only = root / "whisper_encoder_only"
    encoder_only.mkdir()
    tensors = {k: v.contiguous() for k, v in whisper.state_dict().items() if k[:8] == "encoder."}
    save_file(tensors, encoder_only / "model.safetensors", metadata={"format": "pt"})
    whisper.config.to_json_file(encoder_only / "config.json")
    built["whisper_encoder_only"] = whisper
    return root, built


def direct_whisper(model, wave):
    features = transformers.WhisperFeatureExtractor()(wave, sampling_rate=RATE, return_tensors="pt")
    with torch.no_grad():
        states = model.encoder(features.input_features, output_hidden_states=True).hidden_states
    frames = math.ceil(len(wave) / 320)
    return torch.stack(states)[:, 0, :frames].numpy()


def direct_waveform(model, folder, wave):
    features = transformers.AutoFeatureExtractor.from_pretrained(folder)
    values = features(wave, sampling_rate=RATE, return_tensors="pt").input_values
    with torch.no_grad():
        states = model(values, output_hidden_states=True).hidden_states
    return torch.stack(states)[:, 0].numpy()


@pytest.mark.parametrize("name", list(WAVEFORM_MODELS))
def test_waveform_models_match_transformers(models, name):
    root, built = models
    encoder = HFEncoder(model=str(root / name))
    wave = voice(1.0)
    states = encoder.extract(wave)
    frames = int(built[name]._get_feat_extract_output_lengths(torch.tensor(len(wave))))
    assert states.shape == (3, frames, 32) and states.dtype == np.float32
    assert (encoder.num_layers, encoder.hidden_size) == (2, 32)
    assert not np.allclose(states[0], states[-1])
    np.testing.assert_allclose(states, direct_waveform(built[name], root / name, wave), atol=1e-5)
    assert isinstance(encoder, Upstream)


@pytest.mark.parametrize("name", list(WAVEFORM_MODELS))
def test_waveform_batch_equals_single(models, name):
    encoder = HFEncoder(model=str(models[0] / name), batch_size=4)
    waves = [voice(0.7, seed=1), voice(0.3, seed=2), voice(0.7, seed=3), voice(0.5, seed=4)]
    batched = encoder.extract_batch(waves)
    for wave, states in zip(waves, batched, strict=True):
        np.testing.assert_allclose(states, encoder.extract(wave), atol=1e-4)
    assert batched[1].shape[1] < batched[3].shape[1] < batched[0].shape[1]


def test_normalising_models_ignore_the_input_level(models):
    root, _ = models
    normalised = HFEncoder(model=str(root / "wav2vec2_layer"))
    wave = voice(0.5)
    np.testing.assert_allclose(
        normalised.extract(wave), normalised.extract(4 * wave), rtol=1e-3, atol=1e-3
    )
    raw = HFEncoder(model=str(root / "wav2vec2_group"))
    assert not np.allclose(raw.extract(wave), raw.extract(4 * wave), atol=1e-3)


def test_waveform_model_without_preprocessor_config(models, tmp_path):
    build_waveform_model(tmp_path, "wav2vec2_group")
    (tmp_path / "preprocessor_config.json").unlink()
    states = HFEncoder(model=str(tmp_path)).extract(voice(0.5))
    reference = HFEncoder(model=str(models[0] / "wav2vec2_group")).extract(voice(0.5))
    np.testing.assert_allclose(states, reference, atol=1e-6)


def test_very_short_clip_gives_one_frame(models):
    states = HFEncoder(model=str(models[0] / "hubert")).extract(voice(0.001))
    assert states.shape == (3, 1, 32)


@pytest.mark.parametrize("name", ["whisper", "whisper_generation", "whisper_encoder_only"])
def test_whisper_checkpoints_match_transformers(models, name):
    root, built = models
    encoder = HFEncoder(model=str(root / name))
    wave = voice(1.234)
    states = encoder.extract(wave)
    assert states.shape == (3, math.ceil(1.234 * 50), 32)
    assert not np.allclose(states[0], states[-1])
    np.testing.assert_allclose(states, direct_whisper(built[name], wave), atol=1e-5)
    assert (encoder.num_layers, encoder.hidden_size) == (2, 32)


def test_whisper_last_state_is_layer_normed(models):
    states = HFEncoder(model=str(models[0] / "whisper")).extract(voice(1.0))
    # the final LayerNorm (weight 1, bias 0 at init) leaves each frame with mean 0, std 1
    np.testing.assert_allclose(states[-1].mean(axis=1), 0, atol=1e-4)
    assert not np.allclose(states[-2].mean(axis=1), 0, atol=1e-2)


def test_whisper_real_length_equals_padded_only_for_30_seconds(models):
    folder = str(models[0] / "whisper")
    padded = HFEncoder(model=folder, whisper_input="padded")
    real = HFEncoder(model=folder, whisper_input="real_length")
    full = voice(30.0)
    np.testing.assert_allclose(real.extract(full), padded.extract(full), atol=1e-5)
    short = voice(2.0)
    assert real.extract(short).shape == padded.extract(short).shape == (3, 100, 32)
    assert not np.allclose(real.extract(short)[1:], padded.extract(short)[1:], atol=1e-3)


def test_whisper_real_length_log_mels_are_the_30_second_ones_cut(models):
    runner = HFEncoder(model=str(models[0] / "whisper"), whisper_input="real_length").load()
    waves = [voice(2.3, seed=1), voice(0.37, seed=2), voice(29.99, seed=3)]
    full = runner.features(waves, sampling_rate=16000, return_tensors="pt").input_features
    short = runner.log_mels(waves)
    assert short.shape[2] <= full.shape[2] and runner.log_mels(waves[:2]).shape[2] < 300
    for wave, a, b in zip(waves, full, short, strict=True):
        frames = 2 * math.ceil(len(wave) / runner.hop)
        assert torch.equal(a[:, :frames], b[:, :frames])  # bit for bit: the cache stays valid
    assert torch.equal(runner.log_mels(waves[:2])[1, :, :2], short[1, :, :2])


@pytest.mark.parametrize("whisper_input", ["padded", "real_length"])
def test_whisper_batch_equals_single(models, whisper_input):
    encoder = HFEncoder(model=str(models[0] / "whisper"), whisper_input=whisper_input)
    waves = [voice(1.5, seed=1), voice(0.4, seed=2)]
    for wave, states in zip(waves, encoder.extract_batch(waves), strict=True):
        np.testing.assert_allclose(states, encoder.extract(wave), atol=1e-4)


def test_long_audio_is_chunked(models):
    root, _ = models
    whisper = HFEncoder(model=str(root / "whisper"), whisper_input="real_length")
    assert whisper.extract(voice(35.0)).shape == (3, 1750, 32)  # two 17.5 s chunks
    capped = HFEncoder(model=str(root / "whisper"), whisper_input="real_length", max_chunk_s=1)
    assert capped.extract(voice(2.5)).shape == (3, 125, 32)
    hubert = HFEncoder(model=str(root / "hubert"), max_chunk_s=0.5)
    lengths = [hubert.extract(voice(seconds)).shape[1] for seconds in (0.4, 1.2, 2.0)]
    assert lengths[0] < lengths[1] < lengths[2]
    assert abs(lengths[2] - 2 * 200) <= 4  # ~200 frames/s across the chunks


@pytest.mark.parametrize("name", ["whisper", "wav2vec2_layer"])
def test_bfloat16_is_close_to_float32(models, name):
    folder = str(models[0] / name)
    wave = voice(1.0)
    exact = HFEncoder(model=folder).extract(wave)
    fast = HFEncoder(model=folder, dtype="bfloat16").extract(wave)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    for layer in range(exact.shape[0]):
        assert np.corrcoef(exact[layer].ravel(), fast[layer].ravel())[0, 1] > 0.99


def test_picklable_before_and_after_loading(models):
    encoder = HFEncoder(model=str(models[0] / "whisper"), num_threads=1)
    fresh = pickle.loads(pickle.dumps(encoder))
    states = encoder.extract(voice(0.5))
    restored = pickle.loads(pickle.dumps(encoder))
    assert restored._runner is None and len(pickle.dumps(encoder)) < 2000
    np.testing.assert_array_equal(restored.extract(voice(0.5)), states)
    np.testing.assert_array_equal(fresh.extract(voice(0.5)), states)


def test_identity_tracks_what_changes_the_output(models):
    root, _ = models
    base = HFEncoder(model=str(root / "whisper")).identity()
    assert base["upstream"] == "hf" and base["model"] == "whisper"
    assert len(base["weights"]) == 16 and base["transformers"] == transformers.__version__
    for change in ({"dtype": "bfloat16"}, {"whisper_input": "real_length"}, {"max_chunk_s": 10}):
        assert HFEncoder(model=str(root / "whisper"), **change).identity() != base
    assert HFEncoder(model=str(root / "whisper"), batch_size=2).identity() == base
    other = HFEncoder(model=str(root / "whisper_generation")).identity()
    assert other["weights"] != base["weights"]
    hub = HFEncoder(model="facebook/wav2vec2-base", revision="abc123").identity()
    assert (hub["model"], hub["revision"], hub["weights"]) == (
        "facebook/wav2vec2-base",
        "abc123",
        None,
    )


def test_constructor_stores_arguments_and_does_no_work(tmp_path):
    encoder = HFEncoder(model=str(tmp_path / "absent"), dtype="bfloat16", batch_size=3)
    assert (encoder.model, encoder.dtype, encoder.batch_size) == (
        str(tmp_path / "absent"),
        "bfloat16",
        3,
    )


def test_missing_folder_is_named(tmp_path):
    missing = str(tmp_path / "no_such_model")
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        HFEncoder(model=missing).extract(voice(0.1))
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        HFEncoder(model=missing).identity()


def test_folder_without_config_is_named(tmp_path):
    with pytest.raises(OSError, match=str(tmp_path.name)):
        HFEncoder(model=str(tmp_path)).extract(voice(0.1))


def test_text_model_is_refused_by_name(tmp_path):
    config = transformers.BertConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    transformers.BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=f"{tmp_path.name}.*'bert'.*not a waveform audio"):
        HFEncoder(model=str(tmp_path)).extract(voice(0.1))


def test_wrong_rate_and_bad_options_are_named(models):
    folder = str(models[0] / "hubert")
    with pytest.raises(ValueError, match="expects 16000 Hz.*sample_rate=8000"):
        HFEncoder(model=folder, sample_rate=8000).extract(voice(0.1))
    with pytest.raises(ValueError, match="'float16'"):
        HFEncoder(model=folder, dtype="float16").extract(voice(0.1))
    with pytest.raises(ValueError, match="non-empty mono"):
        HFEncoder(model=folder).extract(np.zeros((2, 100), dtype=np.float32))


def test_missing_encoder_weights_warn(models, tmp_path):
    whisper = models[1]["whisper"]
    tensors = {k: v.contiguous() for k, v in whisper.state_dict().items() if "layers.1." not in k}
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    whisper.config.to_json_file(tmp_path / "config.json")
    with pytest.warns(UserWarning, match="randomly initialised.*encoder.layers.1"):
        HFEncoder(model=str(tmp_path)).extract(voice(0.1))


def test_registry_builds_it(models):
    encoder = registry.build("upstream", "hf", model=str(models[0] / "whisper"))
    assert isinstance(encoder, HFEncoder)
    assert json.dumps(encoder.identity())


def test_random_init_keeps_the_architecture_and_drops_the_weights(models):
    root, _ = models
    pretrained = HFEncoder(model=str(root / "whisper"))
    random = HFEncoder(model=str(root / "whisper"), random_init=True)
    wave = voice(1.0)
    a, b = pretrained.extract(wave), random.extract(wave)
    assert a.shape == b.shape and not np.allclose(a[-1], b[-1])
    np.testing.assert_array_equal(
        b, HFEncoder(model=str(root / "whisper"), random_init=True).extract(wave)
    )  # seeded
    assert random.identity()["random_init"] and not pretrained.identity()["random_init"]


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pickle_checkpoint_that_names_code_is_refused(tmp_path, tiny_whisper):
    import shutil

    import torch

    folder = tmp_path / "model"
    shutil.copytree(tiny_whisper, folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "marker"
    torch.save({"weight": _RunsCode(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pickle that names code to run, refused.*GLOBAL"):
        HFEncoder(model=str(folder)).num_layers  # noqa: B018 (loads the model)
    assert not marker.exists()


def test_the_device_is_chosen_checked_and_left_out_of_the_cache_key(models):
    """``device``: ``auto`` is the CPU here (no GPU) and gives the same states as ``cpu``; a
    CUDA device on a machine without one, or no device at all, is refused by name."""
    folder = str(models[0] / "whisper")
    wave = voice(0.6, seed=3)
    auto, cpu = HFEncoder(model=folder), HFEncoder(model=folder, device="cpu")
    np.testing.assert_array_equal(auto.extract(wave), cpu.extract(wave))
    assert auto.identity() == HFEncoder(model=folder, device="cuda:3").identity()
    with pytest.raises(ValueError, match="'nowhere': not a torch device"):
        HFEncoder(model=folder, device="nowhere").load()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda': this machine has no CUDA device"):
            HFEncoder(model=folder, device="cuda").load()
