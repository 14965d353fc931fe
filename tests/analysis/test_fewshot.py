import json

import pytest

from emotransfer.cli import main


def fewshot_yaml(tmp_path, synthetic_root, target="synthetic_copy", methods="[maml, transfer]"):
    """Two "corpora": the synthetic corpus, and a csv copy of its metadata under another name."""
    from pathlib import Path

    import pandas as pd

    synthetic_root = Path(synthetic_root)
    copy = tmp_path / "synthetic_copy"
    copy.mkdir(exist_ok=True)
    table = pd.read_csv(synthetic_root / "metadata.csv")
    table["file"] = [str(synthetic_root / f) for f in table["file"]]
    table["corpus"] = "synthetic_copy"
    table.to_csv(copy / "metadata.csv", index=False)
    config = tmp_path / "fs.yaml"
    config.write_text(
        f"name: fs\noutput_dir: {tmp_path}\ncache_dir: {tmp_path}/cache\n"
        # the same clips twice: allowed explicitly (duplicate rows are refused by default)
        "data:\n  allow_duplicates: true\n  corpora:\n"
        f"    - {{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}\n"
        f"    - {{name: csv, root: {copy}}}\n"
        "features: {workers: 1, normalization: global}\n"
        f"fewshot: {{target: {target}, shots: [1, 2], repeats: 3, methods: {methods}, "
        "tasks: speaker, hidden: 16, meta_steps: 30, episode_shots: 2, episode_queries: 2}\n"
    )
    return config


def test_fewshot_study_writes_table_and_plot(tmp_path, synthetic_root):
    config = fewshot_yaml(tmp_path, synthetic_root, methods="[maml, transfer, transfer_layers]")
    assert main(["fewshot", str(config), "--quiet"]) == 0
    folder = tmp_path / "fs" / "fewshot"
    report = json.loads((folder / "fewshot.json").read_text())
    assert report["target"] == "synthetic_copy" and report["sources"] == ["synthetic"]
    assert set(report["methods"]) == {"maml", "transfer", "transfer_layers"}
    transfer = report["methods"]["transfer"]["2"]
    assert transfer["speaker_independent"] and transfer["mean_uar"] > 0.4  # 4 classes
    assert (folder / "fewshot.png").is_file() and (folder / "config.yaml").is_file()
    # One hidden state (eGeMAPS functionals): the support-chosen layer is that state.
    assert report["methods"]["transfer_layers"]["2"]["uars"] == transfer["uars"]
    assert len((folder / "fewshot.csv").read_text().splitlines()) == 1 + 3 * 2


def test_fewshot_refuses_an_unknown_target_or_method(tmp_path, synthetic_root):
    from emotransfer.analysis.fewshot import run_fewshot
    from emotransfer.config import load_config

    with pytest.raises(ValueError, match="fewshot.target 'urdu' is not loaded"):
        run_fewshot(load_config(fewshot_yaml(tmp_path, synthetic_root, target="urdu")),
                    progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="unknown method 'reptile'"):
        run_fewshot(load_config(fewshot_yaml(tmp_path, synthetic_root, methods="[reptile]")),
                    progress=False)  # fmt: skip
