"""Cached states: a frozen encoder's outputs computed once stand in for it while training."""

import numpy as np
import pytest
import torch
from tests.test_finetune_run import finetune_config

from emotransfer.config import ConfigError, load_config
from emotransfer.encoders.cached import CachedStates, cache_states
from emotransfer.experiment import run
from emotransfer.inference import Predictor


def test_the_stand_in_gives_what_the_encoder_gave(tiny_whisper):
    from emotransfer.encoders.hf_audio import HFAudioEncoder

    encoder = HFAudioEncoder(model=tiny_whisper, whisper_input="real_length")
    rng = np.random.default_rng(0)
    waves = [rng.normal(0, 0.1, n).astype(np.float32) for n in (16000, 9000, 24000)]
    states = cache_states(encoder, waves, batch_size=2, dtype=np.float32)
    stand_in = CachedStates(num_layers=encoder.num_layers, hidden_size=encoder.hidden_size,
                            frame_rate=encoder.frame_rate)  # fmt: skip
    with torch.no_grad():
        real = encoder(encoder.prepare(waves))
        cached = stand_in(stand_in.prepare(states))
    assert cached.mask.equal(real.mask) and stand_in.item_rate == encoder.frame_rate
    keep, kept = cached.mask[:, None, :, None], real.mask[:, None, :, None]
    torch.testing.assert_close(cached.states * keep, real.states * kept, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="cached states of shape"):
        stand_in.prepare([np.zeros((4, 2, encoder.hidden_size))])


def test_a_body_on_cached_frozen_states_trains_like_one_on_the_encoder(tmp_path, synthetic_root,
                                                                       tiny_whisper):  # fmt: skip
    settings = ["finetune.strategy=frozen", "finetune.params={}", "finetune.validation_folds=0",
                "split.only_folds=[speaker=s01, speaker=s02]", "finetune.normalization=global",
                "model.params={body: mscnn, body_params: {channels: 4, layers: 1}, "
                "pooling: stats}"]  # fmt: skip
    plain = run(finetune_config(tmp_path / "plain", synthetic_root, tiny_whisper, *settings),
                progress=False)  # fmt: skip
    cached = run(finetune_config(tmp_path / "cached", synthetic_root, tiny_whisper, *settings,
                                 "finetune.cache_states=true"), progress=False)  # fmt: skip
    import pandas as pd

    first, second = (pd.read_csv(r.run_dir / "predictions.csv") for r in (plain, cached))
    assert first["predicted"].tolist() == second["predicted"].tolist()
    # the served model is built on the real encoder and loads the weights trained on states
    wave = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    served = Predictor.from_run(cached.run_dir).predict_signal(wave)
    reference = Predictor.from_run(plain.run_dir).predict_signal(wave)
    assert served == pytest.approx(reference, abs=0.02)  # float16 states


def test_cached_states_need_an_encoder_that_stays_as_it_is():
    with pytest.raises(ConfigError, match="cache_states.*strategy frozen"):
        load_config(None, overrides=["finetune={strategy: lora, cache_states: true}"])
    with pytest.raises(ConfigError, match="test_corruption"):
        load_config(None, overrides=["finetune={strategy: frozen, cache_states: true}",
                                     "data.test_corruption={name: gain, db: -6}"])  # fmt: skip
