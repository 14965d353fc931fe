import pytest
import torch
import transformers

from emotransfer.encoders.hf_text import HFTextEncoder
from emotransfer.transfer.finetune import FineTune
from emotransfer.transfer.lora import LoRA, lora_parameters


def test_every_hidden_state_of_the_tokens_with_their_mask(tiny_bert):
    encoder = HFTextEncoder(model=tiny_bert).eval()
    assert (encoder.modality, encoder.num_states, encoder.hidden_size) == ("text", 3, 16)
    texts = ["furious", "gloomy tearful downcast"]
    batch = encoder.prepare(texts)
    with torch.no_grad():
        output = encoder(batch)
        reference = transformers.BertModel.from_pretrained(tiny_bert).eval()(
            **batch, output_hidden_states=True).hidden_states  # fmt: skip
    assert output.states.shape == (2, 3, 5, 16)  # [CLS] 3 words [SEP]
    assert output.mask.sum(dim=1).tolist() == [3, 5]
    for index, state in enumerate(reference):
        torch.testing.assert_close(output.states[:, index], state)


def test_long_texts_are_cut_at_max_tokens(tiny_bert):
    encoder = HFTextEncoder(model=tiny_bert, max_tokens=4)
    assert encoder.prepare(["calm " * 50])["input_ids"].shape == (1, 4)
    with pytest.raises(ValueError, match="max_tokens"):
        HFTextEncoder(model=tiny_bert, max_tokens=1)


def test_random_init_is_seeded_and_not_the_pretrained_weights(tiny_bert):
    first, second = (HFTextEncoder(model=tiny_bert, random_init=True, seed=3) for _ in range(2))
    pretrained = HFTextEncoder(model=tiny_bert)
    weights = [dict(e.module.named_parameters())["encoder.layer.0.attention.self.query.weight"]
               for e in (first, second, pretrained)]  # fmt: skip
    torch.testing.assert_close(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])


def text_only(encoder):
    from emotransfer.models.emotion_model import EmotionModel

    return EmotionModel(encoders={"text": encoder}, num_classes=2, layer=None)


def test_strategies_act_on_a_text_encoder_through_its_interface(tiny_bert):
    model = text_only(HFTextEncoder(model=tiny_bert))
    encoder = model.encoders["text"]
    assert len(encoder.blocks()) == 2
    FineTune(freeze_top=1).apply(model)
    frozen = {id(p) for p in encoder.front_end_parameters()}
    frozen |= {id(p) for p in encoder.blocks()[-1].parameters()}
    assert frozen and all(p.requires_grad == (id(p) not in frozen) for p in encoder.parameters())
    model = text_only(HFTextEncoder(model=tiny_bert))
    LoRA(rank=2, target_modules=["query", "value"]).apply(model)
    added = lora_parameters(model.encoders["text"])
    assert len(added) == 2 * 2 * 2  # A and B, query and value, two layers
    trained = [p for p in model.encoders["text"].parameters() if p.requires_grad]
    assert {id(p) for p in trained} == {id(p) for p in added}


def test_a_frozen_encoder_keeps_dropout_off_while_the_model_trains(tiny_bert):
    from emotransfer.models.emotion_model import EmotionModel

    text = HFTextEncoder(model=tiny_bert)
    model = EmotionModel(encoders={"text": text}, num_classes=2)
    batch = text.prepare(["furious calm", "gloomy"])
    model.train()
    assert text.module.training  # trainable: dropout on
    first, second = (text(batch).states for _ in range(2))
    assert not torch.equal(first, second)
    text.freeze()  # as LoRA does before adding its adapters: dropout stays on
    model.train()
    assert text.module.training
    text.freeze_in_eval()  # the frozen strategy
    model.train()
    assert not text.training and not text.module.training and model.head.training
    first, second = (text(batch).states for _ in range(2))
    assert torch.equal(first, second)
