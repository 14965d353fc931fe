"""LEAF (Zeghidour et al. 2021) against the paper's equations and the log-mel it starts from."""

import json
import math

import numpy as np
import pytest
import torch
from tests.bodies import synthetic_run_config

from emotransfer.encoders.leaf import Leaf
from emotransfer.encoders.logmel import LogMelEncoder

RATE = 16000


def speech_like(seconds=3.0, seed=0):
    """A rising chirp plus bursts of noise of changing colour and level: every band's energy
    moves over time."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    signal = 0.3 * np.sin(2 * np.pi * (200 * t + 600 * t**2))
    noise = rng.normal(size=len(t))
    for start in range(0, len(t), 4000):
        width = int(rng.integers(1, 30))
        burst = np.convolve(noise[start : start + 4000], np.ones(width) / width, mode="same")
        signal[start : start + 4000] += burst * rng.uniform(0.05, 0.5)
    return signal.astype(np.float32)


def test_a_mel_initialised_leaf_starts_close_to_the_log_mel_of_the_same_resolution():
    leaf = Leaf(num_filters=40, compression="log", fmin=60, fmax=7800)
    mel = LogMelEncoder(num_mels=40, fmin=60, fmax=7800)
    wave = speech_like()
    with torch.no_grad():
        learnable = leaf(leaf.prepare([wave])).states[0, 0].numpy()
        fixed = mel(mel.prepare([wave])).states[0, 0].numpy()
    # LEAF frame k is centred on sample 160 k, log-mel frame j on 160 j + 200: one hop later
    frames = min(len(learnable) - 1, len(fixed))
    correlation = [np.corrcoef(learnable[1 : frames + 1, band], fixed[:frames, band])[0, 1]
                   for band in range(40)]  # fmt: skip
    assert np.median(correlation) > 0.95 and min(correlation) > 0.8


def test_frequency_domain_gabor_filters_match_the_papers_windowed_convolution():
    leaf = Leaf(num_filters=40, compression="log", fmin=60, fmax=7800)
    wave = torch.from_numpy(speech_like(1.0, seed=1))[None]
    window = leaf.window
    taps = torch.arange(window) - (window - 1) / 2
    with torch.no_grad():
        centre, width = leaf.centres[:, None], leaf.widths[:, None]
        envelope = torch.exp(-(taps**2) / (2 * width**2)) / (math.sqrt(2 * math.pi) * width)
        kernels = torch.cat([envelope * torch.cos(centre * taps),
                             envelope * torch.sin(centre * taps)])[:, None]  # fmt: skip
        padded = torch.nn.functional.pad(wave[:, None], (window // 2, window // 2))
        parts = torch.nn.functional.conv1d(padded, kernels.flip(-1))[0]
        expected = parts[:40] ** 2 + parts[40:] ** 2  # |x * phi_n|^2, phi cut to the window
        energy = leaf.gabor_energy(wave)[0]
    error = (energy - expected).abs().sum(-1) / expected.sum(-1)
    assert error.max() < 0.08  # the lowest band: the widest impulse response, cut by the window
    assert error[1:-1].max() < 0.005


def test_a_tone_excites_the_filter_centred_nearest_to_it():
    leaf = Leaf(num_filters=32, compression="log")
    centres_hz = leaf.centres.detach().numpy() * RATE / (2 * np.pi)
    for frequency in (300.0, 1200.0, 4000.0):
        tone = np.sin(2 * np.pi * frequency * np.arange(RATE) / RATE).astype(np.float32)
        with torch.no_grad():
            bands = leaf(leaf.prepare([tone])).states[0, 0, 20:80].mean(0).numpy()
        assert bands.argmax() == np.abs(centres_hz - frequency).argmin()


def test_spcen_follows_its_equations():
    leaf = Leaf(num_filters=3)
    constant = torch.full((1, 3, 6), 5.0)
    with torch.no_grad():
        out = leaf.pcen(constant)
    # a constant energy is its own moving average: (E / E^alpha + delta)^(1/r) - delta^(1/r)
    expected = (5.0 / (1e-12 + 5.0) ** 0.96 + 2.0) ** 0.5 - 2.0**0.5
    torch.testing.assert_close(out, torch.full_like(out, expected))
    step = torch.tensor([[[1.0, 9.0]]]).expand(1, 3, 2)
    with torch.no_grad():
        second = leaf.pcen(step)[0, 0, 1]
    average = 0.96 * 1.0 + 0.04 * 9.0  # M_1 = (1 - s) M_0 + s E_1, M_0 = E_0
    assert float(second) == pytest.approx((9.0 / average**0.96 + 2.0) ** 0.5 - 2.0**0.5)


def test_a_clip_gives_the_same_frames_alone_and_padded_in_a_batch_and_every_part_learns():
    leaf = Leaf(num_filters=16)
    short, long = speech_like(0.4, seed=2), speech_like(1.0, seed=3)
    together = leaf(leaf.prepare([short, long]))
    alone = leaf(leaf.prepare([short]))
    assert together.mask.sum(1).tolist() == [40, 100]
    torch.testing.assert_close(together.states[0, 0, :40], alone.states[0, 0], atol=1e-4,
                               rtol=1e-4)  # fmt: skip
    together.states[together.mask[:, None]].sum().backward()
    for name, parameter in leaf.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert len(leaf.front_end_parameters()) == 7  # all of it is front end


@pytest.mark.parametrize(
    "options, message",
    [({"compression": "cubic"}, "pcen or log"), ({"fmax": 9000}, "Nyquist"),
     ({"hop_ms": 0.01}, "under one sample")],
)  # fmt: skip
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        Leaf(**options)


def coloured_noise(rng, rows=48, seconds=0.5):
    """Class 0 low-passed noise, class 1 high-passed noise, each clip at a random gain
    (40 dB range): the spectral shape tells the classes, the level does not."""
    waves, labels = [], []
    for row in range(rows):
        noise = rng.normal(size=int(seconds * RATE))
        smooth = np.convolve(noise, np.ones(8) / 8, mode="same")
        wave = smooth if row % 2 == 0 else noise - smooth
        waves.append((wave * 10 ** rng.uniform(-2, 0)).astype(np.float32))
        labels.append(row % 2)
    return waves, torch.tensor(labels)


def test_leaf_with_a_linear_head_learns_the_spectral_shape_at_any_level():
    rng = np.random.default_rng(4)
    (train, y), (test, y_test) = coloured_noise(rng), coloured_noise(rng)
    torch.manual_seed(0)
    leaf = Leaf(num_filters=16)
    head = torch.nn.Linear(16, 2)
    optimizer = torch.optim.Adam([*leaf.parameters(), *head.parameters()], lr=0.01)
    before = leaf.centres.detach().clone()

    def logits(waves):
        output = leaf(leaf.prepare(waves))
        return head(output.states[:, 0].mean(1))

    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(logits(train), y).backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = float((logits(test).argmax(1) == y_test).float().mean())
    assert accuracy >= 0.9
    assert not torch.equal(leaf.centres, before)  # the filters themselves moved


def test_leaf_is_a_registered_encoder_that_trains_through_run_and_predicts(
    tmp_path, synthetic_root, synthetic_table
):  # fmt: skip
    from emotransfer.experiment import run
    from emotransfer.inference import Predictor

    config = synthetic_run_config(tmp_path, synthetic_root, "leaf",
        "model={encoder: leaf, encoder_params: {num_filters: 16}, params: {body: mscnn, "
        "body_params: {channels: 8, layers: 1}, pooling: stats}}",
        "finetune={strategy: full, batch_size: 8, learning_rate: 0.003, epochs: 2, "
        "validation_folds: 0, normalization: global}", "split.only_folds=[speaker=s01]",
    )  # fmt: skip
    result = run(config, progress=False)
    assert json.loads((result.run_dir / "model.json").read_text())["encoder"] == "leaf"
    predictor = Predictor.from_run(result.run_dir)
    encoder = predictor.scorer.models[0].encoders["audio"]
    assert type(encoder).__name__ == "Leaf" and encoder.hidden_size == 16
    assert not torch.allclose(encoder.centres, Leaf(num_filters=16).centres)  # it trained
    guess = predictor.predict_file(synthetic_table["file"].iloc[0])
    assert abs(sum(guess.values()) - 1) < 1e-6
