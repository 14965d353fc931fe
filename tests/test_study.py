import json

import pytest

from emotransfer.cli import main
from emotransfer.config import ConfigError
from emotransfer.study import load_study


def test_study_runs_every_variant_and_tabulates(tmp_path, synthetic_root, capsys):
    study = tmp_path / "study.yaml"
    study.write_text(
        "name: upstreams\n"
        "config:\n"
        f"  output_dir: {tmp_path}/runs\n  cache_dir: {tmp_path}/cache\n"
        f"  data: {{corpora: [{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]}\n"
        "  features: {workers: 1}\n  evaluation: {bootstrap: 50}\n"
        "  head: {grid: {C: [0.1]}}\n"
        "variants:\n  egemaps: [features.upstream=egemaps]\n  logmel: [features.upstream=logmel]\n"
    )
    assert main(["study", str(study), "--quiet"]) == 0
    folder = tmp_path / "runs" / "upstreams"
    saved = json.loads((folder / "study.json").read_text())
    assert [row["variant"] for row in saved["variants"]] == ["egemaps", "logmel"]
    assert (folder / "study.png").is_file() and (folder / "egemaps" / "report.html").is_file()
    printed = capsys.readouterr().out
    assert "egemaps" in printed and "vs egemaps: " in printed
    logmel = saved["variants"][1]
    difference = logmel["uar"] - saved["variants"][0]["uar"]
    paired = logmel["vs_first"]
    assert paired["value"] == pytest.approx(difference)
    assert paired["ci_low"] <= paired["value"] <= paired["ci_high"]
    assert 0 <= logmel["mcnemar_p"] <= 1
    assert saved["comparison"]["clips"] == 4 * 4 * len(saved["comparison"]["classes"])


def test_bad_study_files_are_named(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("name: x\nvariant: {}\n")
    with pytest.raises(ConfigError, match="unknown study key"):
        load_study(study)
    study.write_text("name: x\n")
    with pytest.raises(ConfigError, match="'variants'"):
        load_study(study)


def test_variants_on_different_clips_are_not_paired(tmp_path):
    from emotransfer.study import _paired

    rows = []
    for variant, files in (("a", ["x.wav", "y.wav"]), ("b", ["x.wav", "z.wav"])):
        folder = tmp_path / variant
        folder.mkdir()
        (folder / "predictions.csv").write_text(
            "file,true,predicted\n" + "".join(f"{f},anger,anger\n" for f in files)
        )
        rows.append({"variant": variant, "run_dir": str(folder)})
    comparison = _paired(rows, bootstrap=10)
    assert "1 clip(s) of a missing" in comparison["skipped"]
    assert "vs_first" not in rows[1]
    assert _paired(rows[:1]) is None
