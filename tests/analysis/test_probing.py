import json

import numpy as np
import pytest

from emotransfer.analysis.probing import probe_layers, run_probe
from emotransfer.config import load_config
from emotransfer.data.splits import Fold
from emotransfer.models.heads import RidgeHead


def layered_problem(seed=0):
    """Three hidden states: noise, weak signal, strong signal (layer 2 knows the label)."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(3), 40)
    groups = np.repeat(np.arange(6), 20)
    centers = rng.normal(size=(3, 8))
    features = rng.normal(size=(120, 3, 8))
    features[:, 1] += 0.4 * centers[labels]
    features[:, 2] += 3.0 * centers[labels]
    folds = [
        Fold(f"s{g}", np.flatnonzero(groups != g), np.flatnonzero(groups == g), [str(g)])
        for g in range(6)
    ]
    return features, labels, groups, folds


def test_probe_finds_the_layer_that_knows_the_label():
    features, labels, groups, folds = layered_problem()
    grid = {"alpha": [1.0, 100.0]}
    result = probe_layers(
        features, labels, groups, folds, classes=["a", "b", "c"], head=RidgeHead(), grid=grid,
        bootstrap=100,
    )  # fmt: skip
    uar = [row["uar"] for row in result.layers]
    assert uar[2] > 0.9 and uar[0] < 0.6 and uar[2] > uar[1] > uar[0]
    assert set(result.selected["layers_chosen"].values()) == {2}
    assert result.selected["uar"] == uar[2]
    weights = result.weighted_sum["layer_weights"]
    assert abs(sum(weights) - 1) < 1e-6 and int(np.argmax(weights)) == 2
    assert result.weighted_sum["uar"] > 0.85
    low, high = result.layers[2]["ci_low"], result.layers[2]["ci_high"]
    assert low <= uar[2] <= high


def test_probe_command_writes_table_curve_and_json(tmp_path, synthetic_root):
    config = load_config(None, overrides=[
        f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}", "name=p",
        f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "features.upstream=logmel", "features.workers=1", "evaluation.bootstrap=50",
    ])  # fmt: skip
    folder, result = run_probe(config, progress=False, weighted_sum=False)
    assert (folder / "probe.json").is_file() and (folder / "layers.png").is_file()
    lines = (folder / "layers.csv").read_text().splitlines()
    assert lines[0].startswith("layer,uar") and len(lines) == 2  # log-mel has one state
    assert result.layers[0]["uar"] > 0.4  # chance is 0.25
    again_folder, again = run_probe(config, progress=False, weighted_sum=False)
    assert again.layers == result.layers  # re-probe from the cache is identical


def test_the_probe_leaves_its_chosen_layer_as_a_predictable_run(
    tmp_path, synthetic_root, synthetic_table, capsys
):  # fmt: skip
    from emotransfer.cli import main
    from emotransfer.inference import Predictor

    code = main(["probe", "/dev/null", "--quiet", "-o", "head.name=logreg", "--no-weighted-sum",
                 "-o", f"output_dir={tmp_path}", "-o", f"cache_dir={tmp_path / 'cache'}",
                 "-o", "name=p", "-o", "features.upstream=logmel", "-o", "features.workers=1",
                 "-o", "evaluation.bootstrap=20", "-o", "features.normalization=global",
                 "-o", f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
                 "params: {num_speakers: 4, utterances_per_emotion: 4}}]"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "the chosen layer as a predictable run:" in out
    assert "probe head: logreg" in out  # the config's head, said once
    served = tmp_path / "p" / "probe" / "chosen_layer"
    assert "name: logreg" in (served / "config.yaml").read_text()
    probed = json.loads((tmp_path / "p" / "probe" / "probe.json").read_text())
    metrics = json.loads((served / "metrics.json").read_text())
    assert metrics["summary"]["uar"]["value"] == pytest.approx(probed["layers"][0]["uar"])
    guess = Predictor.from_run(served).predict_file(synthetic_table["file"].iloc[0])
    assert abs(sum(guess.values()) - 1) < 1e-6


def test_the_probe_leaves_its_weighted_sum_as_a_predictable_run(
    tmp_path, synthetic_root, synthetic_table, tiny_wav2vec2, capsys
):  # fmt: skip
    from safetensors.numpy import load_file

    from emotransfer.cli import main
    from emotransfer.inference import Predictor

    code = main(["probe", "/dev/null", "--quiet", "--probe", "ridge",
                 "-o", f"output_dir={tmp_path}", "-o", f"cache_dir={tmp_path / 'cache'}",
                 "-o", "name=w", "-o", "features.upstream=hf", "-o", "features.workers=1",
                 "-o", f"features.params={{model: {tiny_wav2vec2}}}",
                 "-o", "evaluation.bootstrap=20", "-o", "features.normalization=global",
                 "-o", f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
                 "params: {num_speakers: 4, utterances_per_emotion: 4}}]"])  # fmt: skip
    assert code == 0 and "the weighted sum as a predictable run:" in capsys.readouterr().out
    served = tmp_path / "w" / "probe" / "weighted_sum"
    probed = json.loads((tmp_path / "w" / "probe" / "probe.json").read_text())
    metrics = json.loads((served / "metrics.json").read_text())
    assert len(probed["layers"]) > 1  # every hidden state of the upstream is mixed
    assert metrics["summary"]["uar"]["value"] == pytest.approx(probed["weighted_sum"]["uar"])
    refit = load_file(str(served / "refit" / "head.safetensors"))
    assert refit["head.mix"].shape == (len(probed["layers"]),)
    assert refit["head.mix"].sum() == pytest.approx(1.0)
    clips = synthetic_table["file"].tolist()[:3]
    guesses = Predictor.from_run(served).predict_files(clips)
    assert all(abs(sum(g.values()) - 1) < 1e-6 for g in guesses)


@pytest.mark.parametrize(("overrides", "message"), [
    (["features.layer=null"], "needs a head that mixes them"),
    (["head.name=layer_sum"], "set features.layer: null"),
])  # fmt: skip
def test_every_hidden_state_goes_with_a_head_that_mixes_them(
    tmp_path, synthetic_root, overrides, message
):
    from emotransfer.config import load_config
    from emotransfer.experiment import run

    config = load_config(None, overrides=[
        f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}", "features.upstream=logmel",
        f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]", *overrides])  # fmt: skip
    with pytest.raises(ValueError, match=message):
        run(config, progress=False)
    assert [p.name for p in (tmp_path / "experiment").iterdir()] == [".lock"]  # nothing written
    with pytest.raises(ValueError, match="crosscorpus needs one layer"):
        config.model_copy(update={"features": config.features.model_copy(
            update={"layer": None})}).features.one_layer("crosscorpus")  # fmt: skip
