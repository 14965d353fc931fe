import json

import numpy as np
import onnx
import pytest

from emotransfer.cli import main
from emotransfer.config import load_config
from emotransfer.experiment import run
from emotransfer.inference import Predictor
from emotransfer.inference.onnx_export import ONNX_FOLDER, export_onnx
from emotransfer.io import RunFolderError

pytestmark = pytest.mark.filterwarnings("ignore")


def config(tmp_path, root, *overrides):
    return load_config(None, overrides=[
        "name=frozen", f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
        f"data.corpora=[{{name: synthetic, root: {root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "data.labels.classes=[anger, sadness, happiness]", "features.workers=1",
        "evaluation.bootstrap=20", *overrides,
    ])  # fmt: skip


def clips(rate=16000):
    """Clips of lengths never traced, each predicted on its own."""
    rng = np.random.default_rng(7)
    return [rng.normal(0, 0.05, int(s * rate)).astype(np.float32) for s in (0.7, 1.3, 3.1)]


def assert_parity(folder, **options):
    torch_path = Predictor.from_run(folder, **options)
    onnx_path = Predictor.from_run(folder, backend="onnx", **options)
    for wave in clips():
        expected = torch_path.predict_signals([wave])[0]
        found = onnx_path.predict_signals([wave])[0]
        assert list(found) == list(expected)
        assert max(abs(found[k] - expected[k]) for k in found) <= 1e-4
    # each clip alone: the same probabilities whatever else is in the call
    together = onnx_path.predict_signals(clips())
    alone = [onnx_path.predict_signals([wave])[0] for wave in clips()]
    assert together == alone


@pytest.mark.parametrize("head", ["svm", "layer_sum"])
def test_frozen_whisper_probe_exports_with_a_time_axis(tmp_path, synthetic_root, tiny_whisper,
                                                       head):  # fmt: skip
    # the weighted-sum probe on Whisper's real length (time axis), the SVM on 30 s input
    real = head == "layer_sum"
    result = run(config(tmp_path, synthetic_root, "features.upstream=hf",
                        f"features.params={{model: {tiny_whisper}, whisper_input: "
                        f"{'real_length' if real else 'padded'}}}", f"head.name={head}",
                        "features.layer=null" if real else "features.layer=2",
                        "head.grid={C: [1.0]}" if not real else "head.grid={weight_decay: [0.1]}",
                        "head.calibration=none" if real else "head.calibration=temperature"),
                 progress=False)  # fmt: skip
    description = export_onnx(result.run_dir)
    assert description["max_abs_difference"] <= 1e-4
    assert description["dynamic_axes"] == ({"mels": [2]} if real else {"mels": [], "real": []})
    assert description["classes"] == ["anger", "happiness", "sadness"]
    assert_parity(result.run_dir)


def test_frozen_numpy_upstream_exports_its_head_on_the_frames(tmp_path, synthetic_root,
                                                              synthetic_table, capsys):  # fmt: skip
    result = run(
        config(
            tmp_path,
            synthetic_root,
            "features.upstream=logmel",
            "features.pooling=mean_std",
            "head.name=logreg",
        ),
        progress=False,
    )
    description = export_onnx(result.run_dir, folds=True)
    assert description["dynamic_axes"] == {"states": [2]}
    assert_parity(result.run_dir, folds=True)
    clip = synthetic_table["file"].iloc[0]
    capsys.readouterr()
    for backend in ("torch", "onnx"):
        assert main(["predict", str(result.run_dir), clip, "--folds", "--backend", backend]) == 0
    torch_rows, onnx_rows = capsys.readouterr().out.strip().split("\n")[1::2]
    assert torch_rows.split(",")[1] == onnx_rows.split(",")[1]  # the same predicted class


def test_lora_runs_export_merged_with_their_average_speaker(tmp_path, synthetic_root,
                                                            tiny_whisper):  # fmt: skip
    trained = [
        "features.upstream=hf", f"features.params={{model: {tiny_whisper}}}",
        "finetune={strategy: lora, params: {rank: 2}, epochs: 1, batch_size: 8, "
        "learning_rate: 0.01, normalization: global}",
    ]  # fmt: skip
    result = run(config(tmp_path, synthetic_root, "name=lora", *trained), progress=False)
    assert main(["export", str(result.run_dir), "--format", "onnx"]) == 0
    graph = onnx.load(str(result.run_dir / ONNX_FOLDER / "model.onnx"))
    names = [t.name for t in graph.graph.initializer] + [n.name for n in graph.graph.node]
    assert not [name for name in names if "lora" in name.lower()]  # merged into the weights
    assert_parity(result.run_dir)
    # per-speaker normalised: one clip has the kept average training speaker subtracted
    spoken = run(config(tmp_path, synthetic_root, "name=spk", *trained,
                        "finetune.normalization=speaker"), progress=False)  # fmt: skip
    assert export_onnx(spoken.run_dir)["max_abs_difference"] <= 1e-4
    assert_parity(spoken.run_dir)


def test_onnx_predictor_refuses_a_changed_or_missing_export(tmp_path, synthetic_root):
    result = run(config(tmp_path, synthetic_root, "features.upstream=logmel"), progress=False)
    folder = result.run_dir
    with pytest.raises(FileNotFoundError, match="emotransfer export"):
        Predictor.from_run(folder, backend="onnx")
    export_onnx(folder)
    model = folder / ONNX_FOLDER / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(RunFolderError, match="changed since it was exported"):
        Predictor.from_run(folder, backend="onnx")
    export_onnx(folder)
    record = folder / ONNX_FOLDER / "onnx.json"
    described = json.loads(record.read_text())
    record.write_text(json.dumps({**described, "classes": ["a", "b", "c"]}))
    with pytest.raises(RunFolderError, match="not the run's"):
        Predictor.from_run(folder, backend="onnx")
