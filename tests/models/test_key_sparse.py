"""The key-sparse transformer body (Chen et al. 2022): top-k keys per query."""

import numpy as np
import pytest
import torch
from tests.bodies import alone_and_padded, synthetic_run_config
from tests.models.test_multiscale import accuracy, short_events

from emotransfer.models.bodies import IdentityBody
from emotransfer.models.frame_pooling import MeanPooling
from emotransfer.models.key_sparse import KeySparseTransformer, key_sparse_weights


def test_each_query_keeps_its_top_k_keys_and_never_a_padded_one():
    torch.manual_seed(0)
    scores = torch.randn(2, 3, 7, 7)  # (B, H, Tq, Tk)
    mask = torch.arange(7)[None] < torch.tensor([[7], [4]])
    weights = key_sparse_weights(scores, mask[:, None, :], top_k=3)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 7))
    assert ((weights > 0).sum(-1) == 3).all()  # continuous scores: no ties
    assert (weights[1, ..., 4:] == 0).all()
    kept = weights[0, 0, 0] > 0
    assert set(kept.nonzero().flatten().tolist()) == set(scores[0, 0, 0].topk(3).indices.tolist())
    dense = key_sparse_weights(scores, mask[:, None, :], top_k=None)
    torch.testing.assert_close(dense[0], torch.softmax(scores[0], -1))
    few = key_sparse_weights(scores, mask[:, None, :], top_k=6)  # more than 4 real keys
    assert ((few[1] > 0).sum(-1) == 4).all()


def test_a_clip_gives_the_same_frames_alone_and_padded_in_a_batch():
    torch.manual_seed(1)
    body = KeySparseTransformer(input_size=5, width=8, heads=2, layers=2, top_k=3).eval()
    together, alone, mask, kept = alone_and_padded(body, 5)
    torch.testing.assert_close(together[0, :6], alone[0], atol=1e-5, rtol=0)
    assert kept.equal(mask) and together[0, 6:].abs().sum() == 0
    assert body.output_size == 8 and together.shape == (2, 11, 8)


def test_top_k_attention_spreads_a_short_event_that_mean_pooling_misses():
    rng = np.random.default_rng(0)
    train, test = short_events(rng), short_events(rng)
    torch.manual_seed(0)
    body = KeySparseTransformer(input_size=4, width=16, heads=1, layers=1, top_k=4,
                                dropout=0.0)  # fmt: skip
    found = accuracy(body, MeanPooling(input_size=16), train, test, steps=60)
    averaged = accuracy(IdentityBody(input_size=4), MeanPooling(input_size=4), train, test)
    assert found >= 0.9 and averaged <= 0.75


def test_a_stride_attends_over_window_means_of_the_real_frames():
    torch.manual_seed(2)
    body = KeySparseTransformer(input_size=5, width=8, heads=2, layers=1, top_k=2,
                                stride=4).eval()  # fmt: skip
    together, alone, mask, kept = alone_and_padded(body, 5)  # 6 real frames of 11
    assert together.shape == (2, 3, 8) and kept[0].tolist() == [True, True, False]
    torch.testing.assert_close(together[0, :2], alone[0], atol=1e-5, rtol=0)
    frames = torch.randn(1, 6, 5)
    projected = body.inputs(frames)
    windows = torch.stack([projected[0, :4].mean(0), projected[0, 4:].mean(0)])
    plain = KeySparseTransformer(input_size=5, width=8, heads=2, layers=1, top_k=2).eval()
    plain.load_state_dict(body.state_dict())
    plain.inputs = torch.nn.Identity()  # the same layers on the window means
    expected, _ = plain(windows[None], torch.ones(1, 2, dtype=torch.bool))
    strided, _ = body(frames, torch.ones(1, 6, dtype=torch.bool))
    torch.testing.assert_close(strided, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "options, message",
    [({"width": 10, "heads": 4}, "divisible"), ({"top_k": 0}, "top_k"), ({"layers": 0}, "layers"),
     ({"stride": 0}, "stride")],
)  # fmt: skip
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        KeySparseTransformer(input_size=4, **options)


def test_a_clip_longer_than_the_attention_takes_is_named():
    body = KeySparseTransformer(input_size=4, width=8, heads=2, max_frames=50)
    with pytest.raises(ValueError, match="60 frames.*max_frames=50.*finetune.max_seconds"):
        body(torch.zeros(1, 60, 4), torch.ones(1, 60, dtype=torch.bool))


def test_the_registered_body_trains_through_run_and_predicts(tmp_path, synthetic_root,
                                                             synthetic_table):  # fmt: skip
    from emotransfer.experiment import run
    from emotransfer.inference import Predictor

    config = synthetic_run_config(tmp_path, synthetic_root, "kst", "features.upstream=logmel",
        "model.params={body: kst, body_params: {width: 16, heads: 2, layers: 1, top_k: 8}, "
        "pooling: stats}",
        "finetune={strategy: full, batch_size: 8, learning_rate: 0.003, epochs: 10, "
        "validation_folds: 0, normalization: global}", "split.only_folds=[speaker=s01]",
    )  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] >= 0.7  # 8 held-out clips; chance 0.5
    predictor = Predictor.from_run(result.run_dir)
    assert type(predictor.scorer.models[0].bodies["audio"]).__name__ == "KeySparseTransformer"
    guess = predictor.predict_file(synthetic_table["file"].iloc[0])
    assert abs(sum(guess.values()) - 1) < 1e-6
