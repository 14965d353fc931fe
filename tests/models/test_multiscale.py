"""The multi-scale CNN body and the statistical pooling unit (Peng et al. 2021)."""

import numpy as np
import pytest
import torch
from tests.bodies import alone_and_padded, synthetic_run_config

from emotransfer.models.frame_pooling import MeanPooling, StatisticsPooling
from emotransfer.models.multiscale import MultiScaleCNN


def test_a_clip_gives_the_same_frames_alone_and_padded_in_a_batch():
    torch.manual_seed(0)
    body = MultiScaleCNN(input_size=5, kernels=(3, 7), channels=4, layers=2).eval()
    together, alone, mask, kept = alone_and_padded(body, 5)
    torch.testing.assert_close(together[0, :6], alone[0], atol=1e-6, rtol=0)
    assert kept.equal(mask) and together[0, 6:].abs().sum() == 0
    assert body.output_size == 8 and together.shape == (2, 11, 8)


@pytest.mark.parametrize("options", [{"kernels": (4,)}, {"kernels": ()}, {"channels": 0}])
def test_bad_settings_are_refused(options):
    with pytest.raises(ValueError, match="kernels|channels"):
        MultiScaleCNN(input_size=3, **options)


def short_events(rng, rows=160, frames=120, width=4):
    """Noise frames; class 1 has a 3-frame burst in feature 0 somewhere: a short event that
    the mean over 120 frames barely sees."""
    x = rng.normal(size=(rows, frames, width)).astype(np.float32)
    y = np.arange(rows) % 2
    for row in np.flatnonzero(y):
        start = rng.integers(0, frames - 3)
        x[row, start : start + 3, 0] += 4.0
    return torch.from_numpy(x), torch.from_numpy(y)


def accuracy(body, pooling, train, test, steps=150):
    torch.manual_seed(0)
    head = torch.nn.Linear(pooling.output_size, 2)
    parts = torch.nn.ModuleList([body, pooling, head])
    optimizer = torch.optim.Adam(parts.parameters(), lr=0.01)

    def logits(x):
        mask = torch.ones(x.shape[:2], dtype=torch.bool)
        frames, mask = body(x, mask)
        return head(pooling(frames[:, None], mask)[:, 0])

    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(logits(train[0]), train[1]).backward()
        optimizer.step()
    parts.eval()
    with torch.no_grad():
        return float((logits(test[0]).argmax(1) == test[1]).float().mean())


def test_multi_scale_convolutions_with_statistics_pooling_find_a_short_event():
    rng = np.random.default_rng(0)
    train, test = short_events(rng), short_events(rng)
    from emotransfer.models.bodies import IdentityBody

    found = accuracy(
        MultiScaleCNN(input_size=4, kernels=(3, 5), channels=4, layers=1, dropout=0.0),
        StatisticsPooling(input_size=8),
        train,
        test,
    )
    averaged = accuracy(IdentityBody(input_size=4), MeanPooling(input_size=4), train, test)
    assert found >= 0.9 and averaged <= 0.75  # the mean dilutes the event, max finds it


def test_the_registered_body_trains_through_run_and_predicts(tmp_path, synthetic_root,
                                                             synthetic_table):  # fmt: skip
    from emotransfer.experiment import run
    from emotransfer.inference import Predictor

    config = synthetic_run_config(tmp_path, synthetic_root, "mscnn", "features.upstream=logmel",
        "model.params={body: mscnn, body_params: {channels: 8, layers: 1}, pooling: stats}",
        "finetune={strategy: full, batch_size: 8, learning_rate: 0.001, epochs: 20, "
        "validation_folds: 0, normalization: global}",
    )  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] >= 0.75
    predictor = Predictor.from_run(result.run_dir)
    model = predictor.scorer.models[0]
    assert type(model.bodies["audio"]).__name__ == "MultiScaleCNN"
    guess = predictor.predict_file(synthetic_table["file"].iloc[0])
    assert abs(sum(guess.values()) - 1) < 1e-6
