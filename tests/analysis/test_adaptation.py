"""Layer-wise adaptation: CKA properties, weight change per layer, parameter -> hidden state
mapping checked against what each parameter really changes, and an end-to-end run on two tiny
wav2vec2 folders."""

import numpy as np
import pytest
import torch
import transformers

from emotransfer.analysis.adaptation import (
    adaptation_report,
    canonical_name,
    layer_index,
    layer_index_for,
    linear_cka,
    representation_cka,
    weight_change,
)
from emotransfer.features.hf import HFEncoder
from emotransfer.reporting.adaptation import adaptation_figure
from emotransfer.reporting.plots import save_figure
from emotransfer.transfer.merge import merged_state_dict

WAV2VEC2 = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2),
    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
)  # fmt: skip
WHISPER = dict(
    d_model=32, encoder_layers=2, encoder_attention_heads=2, decoder_layers=1,
    decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
    max_source_positions=1500, vocab_size=100,
)  # fmt: skip


def reference_cka(x, y):
    """Textbook HSIC form with an explicit centring matrix."""
    n = len(x)
    centre = np.eye(n) - 1 / n
    k, l_ = centre @ x @ x.T @ centre, centre @ y @ y.T @ centre
    return np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_))


def wav2vec2_model(**extra):
    torch.manual_seed(0)
    return transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**WAV2VEC2, **extra)).eval()


def whisper_encoder(**extra):
    torch.manual_seed(0)
    config = transformers.WhisperConfig(**{**WHISPER, **extra})
    return transformers.WhisperForAudioClassification(config).encoder.eval()


# --- linear CKA ---------------------------------------------------------------------------


def test_cka_of_a_representation_with_itself_is_one():
    x = np.random.default_rng(0).normal(size=(30, 5))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_rotation_and_isotropic_scaling():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))  # correlated features
    rotation = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    y = rng.normal(size=(40, 3))
    assert linear_cka(x, 7.5 * x @ rotation + 2.0) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x @ rotation, y) == pytest.approx(linear_cka(x, y), abs=1e-12)


def test_cka_is_not_invariant_to_any_invertible_linear_map():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 6))
    stretch = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, 20.0]) @ np.linalg.qr(rng.normal(size=(6, 6)))[0]
    assert np.linalg.matrix_rank(stretch) == 6
    assert linear_cka(x, x @ stretch) < 0.5


def test_cka_of_independent_data_is_near_zero_and_symmetric():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5000, 4)), rng.normal(size=(5000, 7))
    assert 0 <= linear_cka(x, y) < 0.01
    related = x @ rng.normal(size=(4, 7)) + y
    assert linear_cka(x, related) == pytest.approx(linear_cka(related, x), abs=1e-12)


@pytest.mark.parametrize("shape", [(12, 50, 30), (60, 5, 8)], ids=["gram", "features"])
def test_cka_matches_the_textbook_formula_either_way_round(shape):
    count, width_x, width_y = shape
    rng = np.random.default_rng(4)
    x = rng.normal(size=(count, width_x)).astype(np.float32)
    y = x[:, :1] * rng.normal(size=(1, width_y)) + rng.normal(size=(count, width_y))
    assert linear_cka(x, y) == pytest.approx(reference_cka(x.astype(float), y), rel=1e-9)


def test_cka_rejects_bad_shapes_and_constant_inputs():
    x = np.ones((10, 3))
    with pytest.raises(ValueError, match="same N"):
        linear_cka(x, x[:5])
    with pytest.raises(ValueError, match="variance"):
        linear_cka(x, np.random.default_rng(0).normal(size=(10, 3)))


def test_representation_cka_mean_and_frames():
    rng = np.random.default_rng(5)
    before = [rng.normal(size=(3, int(length), 4)) for length in rng.integers(5, 40, 12)]
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    after = [np.stack([s[0], 2 * s[1] @ rotation, rng.normal(size=s[2].shape)]) for s in before]
    for pooling in ("mean", "frames"):
        cka = representation_cka(before, after, pooling=pooling)
        assert cka[0] == pytest.approx(1.0) and cka[1] == pytest.approx(1.0) and cka[2] < 0.9
    subset = representation_cka(before, after, pooling="frames", max_frames=50)
    assert subset[:2] == pytest.approx([1.0, 1.0])  # the same frames on both sides
    with pytest.raises(ValueError, match="pooling"):
        representation_cka(before, after, pooling="max")
    with pytest.raises(ValueError, match="same L"):
        representation_cka(before, [s[:2] for s in after])


# --- weight change ------------------------------------------------------------------------


def test_weight_change_per_layer_with_known_deltas():
    rng = torch.Generator().manual_seed(0)
    before = {
        "encoder.layers.0.fc1.weight": torch.randn(8, 4, generator=rng),
        "encoder.layers.0.fc1.bias": torch.randn(8, generator=rng),
        "encoder.layers.1.fc1.weight": torch.randn(8, 4, generator=rng),
        "encoder.layers.1.num_batches_tracked": torch.tensor(3),
        "classifier.weight": torch.randn(2, 4, generator=rng),
        "only.before": torch.zeros(1),
    }
    after = {name: value.clone() for name, value in before.items() if name != "only.before"}
    after["encoder.layers.0.fc1.weight"] *= 1.1
    after["encoder.layers.0.fc1.bias"] *= 1.1
    after["classifier.weight"] += 5.0  # a head: not a layer
    after["encoder.layers.1.num_batches_tracked"] += 1  # not a float weight
    change = weight_change(before, after, layer_index)
    assert list(change) == [1, 2]
    assert change[1] == pytest.approx(0.1) and change[2] == 0.0


def test_weight_change_matches_names_across_wrappers():
    before = {"encoder.layers.0.q.weight": torch.ones(4), "feature_projection.w": torch.ones(2)}
    after = {
        "base_model.model.wav2vec2.encoder.layers.0.q.weight": torch.full((4,), 1.5),
        "base_model.model.wav2vec2.feature_projection.w": torch.ones(2),
        "base_model.model.classifier.lora_A.default.weight": torch.ones(2),  # a head's LoRA
    }
    assert weight_change(before, after, layer_index) == {0: 0.0, 1: pytest.approx(0.5)}
    with pytest.raises(ValueError, match="no parameter names match"):
        weight_change(before, {"decoder.x": torch.ones(1)}, layer_index)
    with pytest.raises(ValueError, match="encoder layer"):
        weight_change({"classifier.w": torch.ones(1)}, {"classifier.w": torch.ones(1)}, layer_index)
    with pytest.raises(ValueError, match="shape"):
        weight_change(before, {"encoder.layers.0.q.weight": torch.ones(5)}, layer_index)


def lora_config(peft):
    return peft.LoraConfig(r=2, lora_alpha=4, target_modules=r".*layers\.1\..*_proj",
                           init_lora_weights=False)  # fmt: skip


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")  # peft on tf 5
def test_weight_change_of_lora_needs_the_merged_model():
    peft = pytest.importorskip("peft")
    model = wav2vec2_model()
    initial = {name: value.clone() for name, value in model.state_dict().items()}
    layer_of = layer_index_for(model.config)
    lora = peft.get_peft_model(model, lora_config(peft))
    with pytest.raises(ValueError, match="merge"):
        weight_change(initial, lora.state_dict(), layer_of)
    merged = merged_state_dict(lora)
    assert any("lora_" in name for name in lora.state_dict())  # the model itself is unchanged
    change = weight_change(initial, merged, layer_of)
    assert change[0] == 0.0 and change[1] == 0.0 and change[2] > 0.01
    unloaded = lora.merge_and_unload().state_dict()
    assert weight_change(initial, unloaded, layer_of) == pytest.approx(change, rel=1e-6)


def test_weight_change_of_lora_injected_into_an_emotion_model():
    # emotransfer's LoRA strategy: adapters injected into `backbone.module` of a task model.
    peft = pytest.importorskip("peft")
    encoder = wav2vec2_model()
    initial = {name: value.clone() for name, value in encoder.state_dict().items()}
    task = torch.nn.Module()
    task.backbone, task.head = torch.nn.Module(), torch.nn.Linear(32, 4)
    task.backbone.module = peft.inject_adapter_in_model(lora_config(peft), encoder)
    merged = merged_state_dict(task)
    assert "backbone.module.encoder.layers.1.attention.q_proj.weight" in merged
    change = weight_change(initial, merged, layer_index_for(encoder.config))
    assert list(change) == [0, 1, 2] and change[2] > 0.01 and change[0] == change[1] == 0.0
    untouched = merged_state_dict(wav2vec2_model())  # no adapters: the plain state dict
    assert set(weight_change(initial, untouched, layer_index_for(encoder.config)).values()) == {0.0}


# --- parameter name -> hidden state -------------------------------------------------------


def test_layer_index_covers_every_parameter_of_wav2vec2_and_whisper():
    models = {
        "wav2vec2": transformers.Wav2Vec2ForSequenceClassification(
            transformers.Wav2Vec2Config(**WAV2VEC2, use_weighted_layer_sum=True)
        ),
        "whisper": transformers.WhisperForAudioClassification(
            transformers.WhisperConfig(**WHISPER)
        ),
    }
    for family, model in models.items():
        layer_of = layer_index_for(model.config)
        mapped = {name: layer_of(name) for name in model.state_dict()}
        assert set(mapped.values()) == {0, 1, 2, None}, family
        assert {name for name, index in mapped.items() if index is None} == {
            "projector.weight", "projector.bias", "classifier.weight", "classifier.bias",
            *(["layer_weights"] if family == "wav2vec2" else []),
        }  # fmt: skip
    assert layer_index("model.decoder.layers.0.fc1.weight", num_layers=2) is None
    assert layer_index("model.decoder.layer_norm.weight", num_layers=2) is None
    assert layer_index("encoder.pos_conv_embed.layers.3.conv.weight") == 0  # data2vec-audio
    assert layer_index("encoder.layer.5.attention.output.dense.weight") == 6
    assert canonical_name("module.encoder.layers.1.fc1.weight") == "layers.1.fc1.weight"
    with pytest.raises(ValueError, match="num_layers"):
        layer_index("encoder.layer_norm.weight")
    with pytest.raises(ValueError, match="past"):
        layer_index("encoder.layers.2.fc1.weight", num_layers=2)


def first_changed_state(model, inputs):
    """For each parameter: the first hidden state that changes when only it is perturbed."""
    with torch.no_grad():
        reference = model(inputs, output_hidden_states=True).hidden_states
        first = {}
        for name, param in model.named_parameters():
            saved = param.clone()
            param.add_(0.1 + 0.5 * torch.randn_like(param))
            states = model(inputs, output_hidden_states=True).hidden_states
            param.copy_(saved)
            same = [torch.equal(a, b) for a, b in zip(reference, states)]
            first[name] = same.index(False) if False in same else None
    return first


@pytest.mark.parametrize("family", ["wav2vec2", "whisper"])
def test_layer_index_is_the_first_hidden_state_a_parameter_changes(family):
    if family == "wav2vec2":
        model, inputs = wav2vec2_model(), torch.randn(1, 2000)
    else:  # 16 positions: a 32-frame log-mel input keeps this fast
        model, inputs = whisper_encoder(max_source_positions=16), torch.randn(1, 80, 32)
    layer_of = layer_index_for(model.config)
    for name, index in first_changed_state(model, inputs).items():
        if name == "masked_spec_embed":  # used only by training-time masking
            assert index is None and layer_of(name) == 0
        else:
            assert layer_of(name) == index, name


# --- end to end ---------------------------------------------------------------------------


def test_adaptation_report_finds_the_one_fine_tuned_layer(tmp_path):
    model = wav2vec2_model()
    model.save_pretrained(tmp_path / "before")
    initial = {name: value.clone() for name, value in model.state_dict().items()}
    with torch.no_grad():
        for param in model.encoder.layers[1].parameters():  # computes hidden state 2
            param.add_(0.3 * torch.randn_like(param))
    model.save_pretrained(tmp_path / "after")
    rng = np.random.default_rng(0)
    waves = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (3200, 3200, 4000, 4800)]
    before = HFEncoder(model=str(tmp_path / "before"))
    after = HFEncoder(model=str(tmp_path / "after"))
    report = adaptation_report(
        before, after, waves, state_before=initial, state_after=model.state_dict(),
        num_layers=2, layer_of=layer_index_for(model.config), pooling="frames",
    )  # fmt: skip
    rows = report["layers"]
    assert [row["layer"] for row in rows] == [0, 1, 2]
    assert rows[0]["cka"] == pytest.approx(1.0, abs=1e-6)
    assert rows[1]["cka"] == pytest.approx(1.0, abs=1e-6)
    assert rows[2]["cka"] < 0.99
    assert rows[0]["weight_change"] == 0.0 and rows[1]["weight_change"] == 0.0
    assert rows[2]["weight_change"] > 0.05
    assert report["most_adapted"][0] == 2
    mean_pooled = adaptation_report(
        before, after, waves, state_before=initial, state_after=model.state_dict(), num_layers=2
    )
    assert mean_pooled["layers"][1]["cka"] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="expected 4 hidden states"):
        adaptation_report(before, after, waves, state_before=initial,
                          state_after=initial, num_layers=3)  # fmt: skip
    figure = adaptation_figure(rows, title="tiny wav2vec2")
    assert len(figure.axes) == 2
    assert [round(float(bar.get_height()), 3) for bar in figure.axes[1].patches] == [
        0.0, 0.0, round(rows[2]["weight_change"], 3),
    ]  # fmt: skip
    assert save_figure(figure, tmp_path / "adaptation.png").stat().st_size > 0
