"""Building a model from its spec: the audio encoder computes at the rate the audio is
decoded at, or the spec is refused."""

import pytest

from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor
from emotransfer.model_spec import TrainedSpec
from emotransfer.transfer.build import build_encoder, build_model


def spec(**changes):
    values = {"classes": ["anger", "sadness"], "sample_rate": 8000, "encoder": "logmel",
              "encoder_params": {"num_mels": 20}, "strategy": "full"}  # fmt: skip
    return TrainedSpec(**{**values, **changes})


def test_the_encoder_gets_the_rate_the_audio_is_decoded_at():
    encoder = build_encoder(spec())
    assert encoder.sample_rate == 8000 and encoder.hop == 80  # 10 ms at 8 kHz, not 160
    model, _ = build_model(spec())
    assert model.sample_rate == 8000


def test_an_encoder_fixed_at_another_rate_is_refused():
    fixed = spec(encoder_params={"num_mels": 20, "sample_rate": 16000})
    with pytest.raises(ValueError, match="decoded at 8000 Hz .* computes on 16000 Hz audio"):
        build_encoder(fixed)


def test_an_8_khz_log_mel_run_trains_and_predicts_at_8_khz(tmp_path, synthetic_root):
    config = load_config(None, overrides=[
        "name=mel8k", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "data.labels.classes=[anger, sadness]", "data.audio.sample_rate=8000",
        "features.upstream=logmel", "features.params={num_mels: 20}",
        "split.only_folds=[speaker=s01]", "evaluation.bootstrap=0",
        "finetune={strategy: full, epochs: 3, batch_size: 8, learning_rate: 0.01, "
        "validation_folds: 0, max_seconds: null, normalization: global}",
    ])  # fmt: skip
    result = run(config, progress=False)
    predictor = Predictor.from_run(result.run_dir)
    encoder = predictor.scorer.models[0].encoders["audio"]
    assert predictor.sample_rate == encoder.sample_rate == 8000
