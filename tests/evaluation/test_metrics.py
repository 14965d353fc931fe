import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

from emotransfer.evaluation.metrics import (
    ccc,
    ccc_report,
    classification_report,
    confusion,
    macro_f1,
    mcnemar,
    uar,
    uar_difference,
    weighted_accuracy,
)

CLASSES = ["anger", "happiness", "neutral", "sadness"]


def random_predictions(seed, size=300, classes=4):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, size)
    # right about 60% of the time, so the scores are far from 0 and 1
    guess = np.where(rng.random(size) < 0.6, truth, rng.integers(0, classes, size))
    return truth, guess


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_sklearn(seed):
    truth, guess = random_predictions(seed)
    assert uar(truth, guess, 4) == pytest.approx(balanced_accuracy_score(truth, guess))
    assert weighted_accuracy(truth, guess) == pytest.approx(accuracy_score(truth, guess))
    assert macro_f1(truth, guess, 4) == pytest.approx(f1_score(truth, guess, average="macro"))
    np.testing.assert_array_equal(confusion(truth, guess, 4), confusion_matrix(truth, guess))


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_uar_ignores_classes_absent_from_truth():
    truth = np.array([0, 0, 0, 1])
    guess = np.array([0, 0, 2, 1])
    assert uar(truth, guess, 3) == pytest.approx((2 / 3 + 1) / 2)
    assert uar(truth, guess, 3) == pytest.approx(balanced_accuracy_score(truth, guess))


def test_report_point_estimates_and_intervals():
    truth, guess = random_predictions(0)
    report = classification_report(truth, guess, CLASSES, bootstrap=300, seed=1)
    summary = report["summary"]
    assert summary["uar"]["value"] == pytest.approx(uar(truth, guess, 4))
    assert summary["wa"]["value"] == pytest.approx(weighted_accuracy(truth, guess))
    assert summary["macro_f1"]["value"] == pytest.approx(macro_f1(truth, guess, 4))
    assert summary["weighted_f1"]["value"] == pytest.approx(
        f1_score(truth, guess, average="weighted"))  # fmt: skip
    for interval in [*summary.values(), *report["per_class_recall"].values()]:
        assert interval["ci_low"] <= interval["value"] <= interval["ci_high"]
        assert interval["ci_high"] - interval["ci_low"] < 0.3
    recall = report["per_class_recall"]["anger"]["value"]
    assert recall == pytest.approx(np.mean(guess[truth == 0] == 0))
    assert report["confusion_matrix"] == confusion_matrix(truth, guess).tolist()


def test_intervals_are_seeded():
    truth, guess = random_predictions(2)
    first = classification_report(truth, guess, CLASSES, bootstrap=200, seed=7)
    assert classification_report(truth, guess, CLASSES, bootstrap=200, seed=7) == first
    other = classification_report(truth, guess, CLASSES, bootstrap=200, seed=8)
    assert other["summary"]["uar"]["value"] == first["summary"]["uar"]["value"]
    assert other["summary"] != first["summary"]


def test_higher_confidence_gives_wider_interval():
    truth, guess = random_predictions(3)
    narrow = classification_report(truth, guess, CLASSES, bootstrap=300, confidence=0.5)
    wide = classification_report(truth, guess, CLASSES, bootstrap=300, confidence=0.99)
    width = {
        name: report["summary"]["uar"]["ci_high"] - report["summary"]["uar"]["ci_low"]
        for name, report in (("narrow", narrow), ("wide", wide))
    }
    assert width["wide"] > width["narrow"]


def test_no_bootstrap_gives_no_bounds():
    truth, guess = random_predictions(4)
    report = classification_report(truth, guess, CLASSES, bootstrap=0)
    assert report["summary"]["uar"] == {
        "value": pytest.approx(uar(truth, guess, 4)),
        "ci_low": None,
        "ci_high": None,
    }
    assert report["per_class_recall"]["sadness"]["ci_low"] is None
    values = np.linspace(-1, 1, 20)
    assert ccc_report(values, values, bootstrap=0) == {
        "value": pytest.approx(1.0),
        "ci_low": None,
        "ci_high": None,
    }


def test_class_missing_from_test_has_no_recall_interval():
    truth = np.array([0, 0, 1, 1, 0, 1])
    guess = np.array([0, 1, 1, 1, 0, 0])
    report = classification_report(truth, guess, ["a", "b", "c"], bootstrap=50)
    assert np.isnan(report["per_class_recall"]["c"]["value"])
    assert report["per_class_recall"]["c"]["ci_low"] is None
    assert report["summary"]["uar"]["value"] == pytest.approx(balanced_accuracy_score(truth, guess))


def test_ccc():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 1, 200)
    truth -= truth.mean()
    assert ccc(truth, truth) == pytest.approx(1.0)
    assert ccc(truth, -truth) == pytest.approx(-1.0)
    shifted = ccc(truth, truth + 0.5)
    assert 0 < shifted < 1
    assert shifted == pytest.approx(2 * truth.var() / (2 * truth.var() + 0.25))
    assert ccc(truth, 2 * truth) < 1  # perfectly correlated, but not concordant
    assert ccc(np.ones(5), np.ones(5)) == 0.0


def test_ccc_report_interval():
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 150)
    guess = truth + rng.normal(0, 0.7, 150)
    report = ccc_report(truth, guess, bootstrap=300, seed=3)
    assert report["value"] == pytest.approx(ccc(truth, guess))
    assert report["ci_low"] <= report["value"] <= report["ci_high"] < 1
    assert ccc_report(truth, guess, bootstrap=300, seed=3) == report


def test_uar_difference_is_paired():
    truth, first = random_predictions(5)
    rng = np.random.default_rng(9)
    # the second system fixes a third of the first one's errors and breaks nothing
    second = np.where((first != truth) & (rng.random(truth.size) < 1 / 3), truth, first)
    difference = uar_difference(truth, first, second, 4, bootstrap=500, seed=0)
    assert difference["value"] == pytest.approx(uar(truth, second, 4) - uar(truth, first, 4))
    # every resampled set of clips still has the second one ahead: the paired interval is > 0
    assert 0 < difference["ci_low"] <= difference["value"] <= difference["ci_high"]
    # two unpaired intervals overlap although the paired difference is clear
    one = classification_report(truth, first, CLASSES, bootstrap=500)["summary"]["uar"]
    two = classification_report(truth, second, CLASSES, bootstrap=500)["summary"]["uar"]
    assert two["ci_low"] < one["ci_high"]
    same = uar_difference(truth, first, first, 4, bootstrap=200)
    assert same == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_uar_difference_over_groups_is_wider_when_errors_cluster():
    truth = np.tile(np.arange(4), 60)
    groups = np.repeat(np.arange(10), 24)
    first = truth.copy()
    second = truth.copy()
    second[groups == 0] = (truth[groups == 0] + 1) % 4  # all errors in one speaker
    items = uar_difference(truth, first, second, 4, bootstrap=500, seed=1)
    speakers = uar_difference(truth, first, second, 4, groups=groups, bootstrap=500, seed=1)
    assert items["value"] == speakers["value"] == pytest.approx(-0.1)
    width = {name: d["ci_high"] - d["ci_low"] for name, d in (("i", items), ("s", speakers))}
    assert width["s"] > 1.5 * width["i"]
    assert uar_difference(truth, first, second, 4, groups=groups, bootstrap=100, seed=1) == (
        uar_difference(truth, first, second, 4, groups=groups, bootstrap=100, seed=1)
    )


def test_mcnemar_counts_and_exact_p():
    from scipy.stats import binomtest

    first = np.array([1] * 30 + [0] * 10 + [1] * 3 + [0] * 7, bool)
    second = np.array([1] * 30 + [1] * 10 + [0] * 3 + [0] * 7, bool)
    test = mcnemar(first, second)
    assert (test["only_first"], test["only_second"], test["both_wrong"]) == (3, 10, 7)
    assert test["p_value"] == pytest.approx(binomtest(3, 13, 0.5).pvalue)
    assert mcnemar(first, first)["p_value"] == 1.0
