import numpy as np
import pandas as pd
import pytest

from emotransfer.analysis.compare import compare, load_predictions
from emotransfer.cli import main

CLASSES = ["anger", "neutral", "sadness"]


def system(truth, guess, *, speakers=None, confidence=0.8, probabilities=True):
    """A predictions table: ``confidence`` on the predicted class, the rest spread evenly."""
    table = pd.DataFrame({"file": [f"/audio/{i:03d}.flac" for i in range(len(truth))],
                          "true": [CLASSES[t] for t in truth],
                          "predicted": [CLASSES[g] for g in guess]})  # fmt: skip
    if speakers is not None:
        table["speaker"] = speakers
    if probabilities:
        for k, label in enumerate(CLASSES):
            table[f"prob_{label}"] = np.where(guess == k, confidence, (1 - confidence) / 2)
    return table


@pytest.fixture
def three(tmp_path):
    """Truth and three systems whose errors fall on different clips, except clips 0-1."""
    truth = np.tile(np.arange(3), 40)
    guesses = [truth.copy() for _ in range(3)]
    for k, guess in enumerate(guesses):
        wrong = [0, 1, *range(10 + 10 * k, 16 + 10 * k)]  # 2 shared errors, 6 own ones
        guess[wrong] = (truth[wrong] + 1) % 3
    paths = []
    for k, guess in enumerate(guesses):
        table = system(truth, guess, speakers=np.repeat(np.arange(8), 15))
        path = tmp_path / f"system{k}.csv"
        table.sample(frac=1.0, random_state=k).to_csv(path, index=False)  # order differs
        paths.append(path)
    return truth, guesses, paths


def test_scores_pairs_oracle_and_ensemble(three):
    truth, guesses, paths = three
    report = compare(paths, bootstrap=200)
    assert report["clips"] == 120 and report["classes"] == CLASSES
    assert [s["name"] for s in report["systems"]] == ["system0", "system1", "system2"]
    assert [s["errors"] for s in report["systems"]] == [8, 8, 8]
    pair = report["pairs"][0]
    assert pair["reference"] == "system0" and pair["system"] == "system1"
    assert pair["uar_difference"]["value"] == pytest.approx(0.0)
    assert pair["mcnemar"]["only_right"] == {"system0": 6, "system1": 6}
    assert pair["mcnemar"]["both_wrong"] == 2
    # only the two shared errors survive the oracle; the majority of three fixes the rest
    assert report["all_wrong"] == 2 and report["oracle"]["errors"] == 2
    assert report["ensemble"]["errors"] == 2
    assert report["ensemble"]["members"] == ["system0", "system1", "system2"]


def test_a_better_system_has_a_positive_paired_difference(tmp_path):
    truth = np.tile(np.arange(3), 50)
    rng = np.random.default_rng(0)
    weak = np.where(rng.random(truth.size) < 0.7, truth, (truth + 1) % 3)
    strong = np.where(rng.random(truth.size) < 0.5, truth, weak)  # fixes half of weak's errors
    system(truth, weak).to_csv(tmp_path / "weak.csv", index=False)
    system(truth, strong).to_csv(tmp_path / "strong.csv", index=False)
    report = compare([tmp_path / "weak.csv", tmp_path / "strong.csv"], bootstrap=300)
    difference = report["pairs"][0]["uar_difference"]
    assert difference["ci_low"] > 0
    assert report["pairs"][0]["mcnemar"]["p_value"] < 0.001
    assert report["pairs"][0]["mcnemar"]["only_right"]["weak"] == 0


def test_speaker_unit_resamples_speakers(three):
    _, _, paths = three
    clips = compare(paths[:2], bootstrap=300, seed=2)
    speakers = compare(paths[:2], bootstrap=300, seed=2, unit="speaker")
    assert speakers["unit"] == "speaker"
    difference = [r["pairs"][0]["uar_difference"] for r in (clips, speakers)]
    assert difference[0]["value"] == difference[1]["value"]
    assert difference[0] != difference[1]
    intervals = [r["systems"][0]["uar"] for r in (clips, speakers)]
    assert intervals[0]["value"] == intervals[1]["value"]
    assert intervals[0]["ci_low"] != intervals[1]["ci_low"]


def test_run_folder_and_blank_probabilities(tmp_path, three):
    truth, guesses, paths = three
    run = tmp_path / "run"
    run.mkdir()
    table = system(truth, guesses[1])
    table.loc[:9, [f"prob_{c}" for c in CLASSES]] = np.nan  # a fold without probabilities
    table.to_csv(run / "predictions.csv", index=False)
    report = compare([paths[0], run], bootstrap=0)
    assert [s["name"] for s in report["systems"]] == ["system0", "run"]
    assert report["ensemble"]["errors"] <= 14
    assert report["systems"][0]["uar"]["ci_low"] is None


def test_no_probabilities_means_no_ensemble(tmp_path, three):
    truth, guesses, paths = three
    system(truth, guesses[1], probabilities=False).to_csv(tmp_path / "plain.csv", index=False)
    report = compare([paths[0], tmp_path / "plain.csv"], bootstrap=0)
    assert report["ensemble"] is None
    assert report["oracle"]["errors"] == 2


def test_bad_inputs_are_named(tmp_path, three):
    truth, guesses, paths = three
    short = system(truth[:-1], guesses[1][:-1])
    short.to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match="short: 1 clip.*missing.*119.flac"):
        compare([paths[0], tmp_path / "short.csv"])
    relabelled = system(truth, guesses[1])
    relabelled.loc[5, "true"] = "sadness" if relabelled.loc[5, "true"] != "sadness" else "anger"
    relabelled.to_csv(tmp_path / "relabelled.csv", index=False)
    with pytest.raises(ValueError, match="relabelled: the true label of /audio/005.flac"):
        compare([paths[0], tmp_path / "relabelled.csv"])
    twice = pd.concat([system(truth, guesses[1]).iloc[:3]] * 2)
    twice.to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(ValueError, match="twice.csv: clip '/audio/000.flac.*listed twice"):
        load_predictions(tmp_path / "twice.csv")
    blank = system(truth, guesses[1])
    blank.loc[3, "predicted"] = None
    blank.to_csv(tmp_path / "blank.csv", index=False)
    with pytest.raises(ValueError, match="blank.csv: line 5 has no true or predicted"):
        load_predictions(tmp_path / "blank.csv")
    pd.DataFrame({"file": ["a"], "true": ["anger"]}).to_csv(tmp_path / "bare.csv", index=False)
    with pytest.raises(ValueError, match="bare.csv: missing column.*predicted"):
        load_predictions(tmp_path / "bare.csv")
    with pytest.raises(FileNotFoundError, match="nowhere: no predictions"):
        load_predictions(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="names must differ"):
        compare([paths[0], paths[0]])
    with pytest.raises(ValueError, match="at least two"):
        compare([paths[0]])


def test_command_line_prints_and_writes_the_report(tmp_path, three, capsys):
    _, _, paths = three
    out = tmp_path / "compare.json"
    argv = ["analyze", "compare", *map(str, paths[:2]), "--names", "probe", "lora",
            "--bootstrap", "100", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "lora - probe: +0.000 [" in printed and "McNemar p 1.000" in printed
    assert "oracle" in printed and "wrong in every system: 2" in printed
    assert out.is_file()
    assert main(["analyze", "compare", str(paths[0])]) == 2
    assert "at least two" in capsys.readouterr().err
