"""The large-kernel CNN body (RepLKNet-style) and its re-parameterisation."""

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from tests.bodies import alone_and_padded, synthetic_run_config

from emotransfer.models.large_kernel import LargeKernel, LargeKernelCNN


def trained_looking(body, seed=0):
    """Random batch-norm statistics and affine parameters, as after training (fresh ones are
    0/1, which would hide a wrong fusion)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in body.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator))
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.randn(size, generator=generator))
                module.bias.copy_(torch.randn(size, generator=generator))
    return body.eval()


@pytest.mark.parametrize("kernel, small", [((9, 31), 5), (13, (3, 7)), ((5, 5), (5, 5))])
def test_the_merged_body_gives_the_training_time_outputs(kernel, small):
    torch.manual_seed(0)
    body = trained_looking(LargeKernelCNN(input_size=20, channels=6, blocks=2, kernel=kernel,
                                          small_kernel=small))  # fmt: skip
    frames = torch.randn(3, 40, 20)
    mask = torch.arange(40)[None] < torch.tensor([[40], [25], [9]])
    with torch.no_grad():
        before, _ = body(frames, mask)
        body.merge()
        after, kept = body(frames, mask)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    assert kept.equal(mask)
    blocks = list(body.kernels)
    assert all(not hasattr(b, "large") and isinstance(b.merged, torch.nn.Conv2d) for b in blocks)
    assert blocks[0].merged.kernel_size == (kernel if isinstance(kernel, tuple) else (13, 13))
    parameters = sum(p.numel() for p in body.parameters())
    body.merge()  # a second merge changes nothing
    assert sum(p.numel() for p in body.parameters()) == parameters


def test_one_block_merges_to_the_sum_of_its_two_branches():
    torch.manual_seed(1)
    block = trained_looking(LargeKernel(4, (7, 11), (3, 3)))
    x = torch.randn(2, 4, 9, 30)
    with torch.no_grad():
        expected = block.large(x) + block.small(x)
        block.merge()
        torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_a_clip_gives_the_same_frames_alone_and_padded_in_a_batch():
    torch.manual_seed(2)
    body = trained_looking(LargeKernelCNN(input_size=8, channels=4, kernel=(5, 15)))
    together, alone, _, _ = alone_and_padded(body, 8, short=7, long=16)
    torch.testing.assert_close(together[0, :7], alone[0], atol=1e-5, rtol=0)
    assert together[0, 7:].abs().sum() == 0
    assert body.output_size == 4 * 2 and together.shape == (2, 16, 8)  # 8 rows -> 4 -> 2


@pytest.mark.parametrize(
    "options, message",
    [({"kernel": 8}, "kernel 8"), ({"kernel": (5, 7, 9)}, "kernel"),
     ({"kernel": 5, "small_kernel": 7}, "larger than kernel"), ({"channels": 0}, "channels")],
)  # fmt: skip
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        LargeKernelCNN(input_size=16, **options)


def test_the_registered_body_trains_through_run_and_is_served_merged(
    tmp_path, synthetic_root, synthetic_table
):  # fmt: skip
    from emotransfer.experiment import run
    from emotransfer.inference import Predictor
    from emotransfer.model_spec import read_model_spec
    from emotransfer.models.batched import predict_proba
    from emotransfer.transfer.build import build_model

    config = synthetic_run_config(tmp_path, synthetic_root, "lkcnn", "features.upstream=logmel",
        "model.params={body: lkcnn, body_params: {channels: 4, blocks: 1, kernel: [5, 15], "
        "small_kernel: 3}, pooling: stats}",
        "finetune={strategy: full, batch_size: 8, learning_rate: 0.01, epochs: 10, "
        "validation_folds: 0, normalization: global, calibration: none}",
        "split.only_folds=[speaker=s01]",
    )  # fmt: skip
    result = run(config, progress=False)
    assert result.metrics["summary"]["uar"]["value"] >= 0.75  # 8 held-out clips
    predictor = Predictor.from_run(result.run_dir)
    served = predictor.scorer.models[0]
    assert served.bodies["audio"].kernels[0].merged is not None
    assert "bodies.audio.kernels.0.large.0.weight" not in served.state_dict()
    # the saved weights in the training-time form give the same probabilities
    unmerged, _ = build_model(read_model_spec(result.run_dir))
    saved = load_file(result.run_dir / "refit" / "trainable.safetensors")
    assert "bodies.audio.kernels.0.large.0.weight" in saved
    unmerged.load_state_dict(saved, strict=False)
    waves = [np.asarray(predictor.load(f), dtype=np.float32)
             for f in synthetic_table["file"].iloc[:4]]  # fmt: skip
    torch.testing.assert_close(
        torch.as_tensor(predict_proba(served, waves, 4)),
        torch.as_tensor(predict_proba(unmerged.eval(), waves, 4)), atol=1e-5, rtol=0,
    )  # fmt: skip
    # the batch norms' running statistics are saved with the weights: the fold model served
    # from the folder gives the run's own test probabilities
    assert "bodies.audio.stem.1.1.running_var" in saved
    tested = pd.read_csv(result.run_dir / "predictions.csv")
    folds = Predictor.from_run(result.run_dir, folds=True)
    served = folds.predict_files(list(tested["file"]))
    columns = [f"prob_{name}" for name in folds.classes]
    np.testing.assert_allclose([[row[c] for c in folds.classes] for row in served],
                               tested[columns].to_numpy(), atol=1e-4)  # fmt: skip
