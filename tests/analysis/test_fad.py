import json

import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from emotransfer.analysis.fad import Moments, frechet_distance
from emotransfer.analysis.fad_study import distance_tables, emotion_bias, group_moments, run_fad
from emotransfer.config import load_config


def moments_of(array):
    moments = Moments()
    for chunk in np.array_split(array, 3):  # streaming in pieces equals one pass
        moments.add(chunk)
    return moments


def test_moments_match_numpy_and_distance_matches_the_scipy_formula():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    b = rng.normal(size=(400, 4)) + 1.5
    first, second = moments_of(a), moments_of(b)
    np.testing.assert_allclose(first.covariance(), np.cov(a, rowvar=False), atol=1e-10)
    mean_a, mean_b, cov_a, cov_b = a.mean(0), b.mean(0), np.cov(a.T), np.cov(b.T)
    root = linalg.sqrtm(cov_a @ cov_b).real
    expected = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(first, second) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(first, first) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(Moments(), first)


def test_emotion_bias_pairs_each_emotion_with_its_nearest_counterpart():
    rng = np.random.default_rng(0)
    offsets = {"anger": 0.0, "sadness": 5.0, "q2": 0.2, "q3": 5.1}
    rows, arrays = [], []
    for corpus, emotions in (("speech", ["anger", "sadness"]), ("music", ["q2", "q3"])):
        for emotion in emotions:
            for _ in range(10):
                arrays.append(rng.normal(size=(1, 30, 2)) + offsets[emotion])
                rows.append({"corpus": corpus, "emotion": emotion})
    table = pd.DataFrame(rows)
    moments = group_moments(arrays, table, by="corpus", layer=0, unit="frames")
    assert moments[("speech", "*")].count == 600
    pair = distance_tables(moments)["pairs"][0]
    assert (pair["a"], pair["b"]) == ("music", "speech")
    bias = {v["emotion"]: v for v in emotion_bias(pair, {"q2": "anger", "q3": "sadness"})}
    assert bias["q2"]["closest"] == "anger" and bias["q2"]["matches"]
    assert bias["q3"]["closest"] == "sadness"


def test_analyze_fad_writes_json_and_heatmaps(tmp_path, synthetic_root):
    config = load_config(None, overrides=[
        f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}", "name=f",
        f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]",
        "features.upstream=logmel", "features.workers=1",
    ])  # fmt: skip
    folder, result = run_fad(config, by="gender", progress=False)
    saved = json.loads((folder / "fad.json").read_text())
    assert saved["sets"] == ["f", "m"] and saved["pairs"][0]["fad"] > 0
    assert (
        len(saved["pairs"][0]["matrix"]) == 4 and (folder / saved["pairs"][0]["figure"]).is_file()
    )
    with pytest.raises(ValueError, match="no column 'condition'"):
        run_fad(config, by="condition", progress=False)
