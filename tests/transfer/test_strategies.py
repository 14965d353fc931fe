"""Strategies act through the model's interface: LoRA finds peft's layers by type, fine-tuning
freezes through the encoder's own ``freeze_front_end``."""

from tests.tiny_models import audio_model

from emotransfer.transfer.finetune import FineTune
from emotransfer.transfer.lora import LoRA, lora_parameters


def trainable_names(model):
    return {name for name, p in model.encoders["audio"].named_parameters() if p.requires_grad}


def test_lora_trains_exactly_the_layers_peft_added(tiny_whisper):
    model = audio_model(tiny_whisper, num_classes=3)
    groups = LoRA(rank=2).apply(model)
    added = lora_parameters(model.encoders["audio"])
    named = [p for n, p in model.encoders["audio"].named_parameters() if ".lora_" in n]
    assert added and [id(p) for p in added] == [id(p) for p in named]
    assert [id(p) for p in groups[1]["params"]] == [id(p) for p in added]
    assert all(".lora_" in name for name in trainable_names(model))


def test_fine_tuning_freezes_through_the_encoders_own_method(tiny_whisper):
    model = audio_model(tiny_whisper, num_classes=3)
    encoder = model.encoders["audio"]
    calls = []
    original = encoder.freeze_front_end

    def freeze_front_end():  # an encoder that knows its front end better than the strategy
        calls.append(1)
        original()
        encoder.blocks()[0].requires_grad_(False)

    encoder.freeze_front_end = freeze_front_end
    FineTune().apply(model)
    assert calls == [1]
    frozen = {id(p) for p in encoder.blocks()[0].parameters()}
    frozen |= {id(p) for p in encoder.front_end_parameters()}
    assert all(p.requires_grad == (id(p) not in frozen) for p in encoder.parameters())
    FineTune(freeze_feature_encoder=False, freeze_top=1).apply(model)
    assert calls == [1]  # not asked to freeze the front end
    assert not any(p.requires_grad for p in encoder.blocks()[-1].parameters())
    assert all(p.requires_grad for p in encoder.front_end_parameters())
