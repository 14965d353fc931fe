"""Classification and regression metrics with bootstrap confidence intervals.

UAR (unweighted average recall) is the mean of per-class recalls over the classes present
in the truth; WA (weighted accuracy) is plain accuracy. Intervals come from a seeded
percentile bootstrap over test items.

Example:
    >>> truth = np.array([0, 0, 1, 1, 2, 2])
    >>> guess = np.array([0, 1, 1, 1, 2, 0])
    >>> round(uar(truth, guess, 3), 3), round(weighted_accuracy(truth, guess), 3)
    (0.667, 0.667)
    >>> round(ccc(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])), 3)
    1.0
"""

from __future__ import annotations

import numpy as np


def confusion(truth: np.ndarray, guess: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    flat = np.bincount(truth * num_classes + guess, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _recalls(matrix: np.ndarray) -> np.ndarray:
    support = matrix.sum(axis=-1)
    diagonal = np.diagonal(matrix, axis1=-2, axis2=-1)
    return np.where(support > 0, diagonal / np.maximum(support, 1), np.nan)


def _uar(matrix: np.ndarray) -> np.ndarray:
    return np.nanmean(_recalls(matrix), axis=-1)


def _wa(matrix: np.ndarray) -> np.ndarray:
    return np.diagonal(matrix, axis1=-2, axis2=-1).sum(-1) / matrix.sum(axis=(-2, -1))


def _class_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class, its F1 and its count of true labels (the last axis)."""
    diagonal = np.diagonal(matrix, axis1=-2, axis2=-1)
    support, predicted = matrix.sum(axis=-1), matrix.sum(axis=-2)
    return 2 * diagonal / np.maximum(support + predicted, 1), support


def _macro_f1(matrix: np.ndarray) -> np.ndarray:
    f1, support = _class_f1(matrix)
    present = support > 0
    return (f1 * present).sum(-1) / np.maximum(present.sum(-1), 1)


def _weighted_f1(matrix: np.ndarray) -> np.ndarray:
    """Per-class F1 weighted by the class' share of the true labels (MELD's usual score)."""
    f1, support = _class_f1(matrix)
    return (f1 * support).sum(-1) / np.maximum(support.sum(-1), 1)


def uar(truth: np.ndarray, guess: np.ndarray, num_classes: int) -> float:
    return float(_uar(confusion(truth, guess, num_classes)))


def weighted_accuracy(truth: np.ndarray, guess: np.ndarray) -> float:
    return float(np.mean(truth == guess))


def macro_f1(truth: np.ndarray, guess: np.ndarray, num_classes: int) -> float:
    return float(_macro_f1(confusion(truth, guess, num_classes)))


def ccc(truth: np.ndarray, guess: np.ndarray) -> float:
    """Concordance correlation coefficient."""
    truth, guess = np.asarray(truth, float), np.asarray(guess, float)
    covariance = np.mean((truth - truth.mean()) * (guess - guess.mean()))
    denominator = truth.var() + guess.var() + (truth.mean() - guess.mean()) ** 2
    return float(2 * covariance / denominator) if denominator > 0 else 0.0


def classification_report(
    truth: np.ndarray,
    guess: np.ndarray,
    classes: list[str],
    *,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> dict[str, object]:
    """UAR, WA, macro- and weighted F1 and per-class recall, each with a bootstrap interval, and
    the matrix.

    The bootstrap resamples items, or whole groups (e.g. speakers) when ``groups`` is given.
    """
    count = len(classes)
    matrix = confusion(truth, guess, count)
    samples = _bootstrap_matrices(truth, guess, count, bootstrap, seed, groups)
    summary = {
        name: _interval(
            function(matrix), function(samples) if samples is not None else None, confidence
        )
        for name, function in (
            ("uar", _uar),
            ("wa", _wa),
            ("macro_f1", _macro_f1),
            ("weighted_f1", _weighted_f1),
        )  # fmt: skip
    }
    recalls = _recalls(matrix)
    sampled = _recalls(samples) if samples is not None else None
    per_class = {
        label: _interval(recalls[i], sampled[:, i] if sampled is not None else None, confidence)
        for i, label in enumerate(classes)
    }
    return {"summary": summary, "per_class_recall": per_class, "confusion_matrix": matrix.tolist()}


def ccc_report(
    truth: np.ndarray,
    guess: np.ndarray,
    *,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float | None]:
    """CCC with a bootstrap interval."""
    rng = np.random.default_rng(seed)
    values = [ccc(truth[i], guess[i]) for i in rng.integers(0, len(truth), (bootstrap, len(truth)))]
    return _interval(ccc(truth, guess), np.array(values) if bootstrap else None, confidence)


def _bootstrap_matrices(
    truth: np.ndarray,
    guess: np.ndarray,
    count: int,
    rounds: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> np.ndarray | None:
    if rounds <= 0:
        return None
    return _matrices(truth, guess, count, _picks(len(truth), rounds, seed, groups))


def _picks(size: int, rounds: int, seed: int, groups: np.ndarray | None) -> list[np.ndarray]:
    if groups is None:
        return _item_picks(size, rounds, seed)
    return _group_picks(groups, rounds, seed)


def _item_picks(size: int, rounds: int, seed: int) -> list[np.ndarray]:
    """Bootstrap rounds over items: ``rounds`` index arrays of ``size`` draws each."""
    return list(np.random.default_rng(seed).integers(0, size, size=(rounds, size)))


def _group_picks(groups: np.ndarray, rounds: int, seed: int) -> list[np.ndarray]:
    """Bootstrap rounds over groups: each round draws as many groups as there are, with
    replacement, and takes all items of every drawn group."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(members), size=(rounds, len(members)))
    return [np.concatenate([members[k] for k in row]) for row in drawn]


def _matrices(
    truth: np.ndarray, guess: np.ndarray, count: int, picks: list[np.ndarray]
) -> np.ndarray:
    """One confusion matrix per bootstrap round: ``(rounds, count, count)``."""
    rounds = len(picks)
    index = np.concatenate(picks)
    round_of = np.repeat(np.arange(rounds), [len(pick) for pick in picks])
    cells = truth[index] * count + guess[index] + round_of * count * count
    return np.bincount(cells, minlength=rounds * count * count).reshape(rounds, count, count)


def uar_difference(
    truth: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    num_classes: int,
    *,
    groups: np.ndarray | None = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float | None]:
    """UAR of ``second`` minus UAR of ``first`` on the same items, with a paired interval.

    Every bootstrap round scores both systems on the same resampled items, so the interval is
    that of the difference itself, narrower than two separate intervals suggest. With
    ``groups`` (e.g. each item's speaker) a round resamples whole groups instead of items:
    clips of one speaker are not independent, and a leave-one-speaker-out test set is a
    sample of speakers.

    Example:
        >>> truth = np.array([0, 0, 1, 1])
        >>> uar_difference(truth, np.array([0, 1, 1, 1]), truth, 2, bootstrap=0)["value"]
        0.25
    """
    value = uar(truth, second, num_classes) - uar(truth, first, num_classes)
    if bootstrap <= 0:
        return _interval(value, None, confidence)
    picks = _picks(len(truth), bootstrap, seed, groups)
    samples = _uar(_matrices(truth, second, num_classes, picks)) - _uar(
        _matrices(truth, first, num_classes, picks)
    )
    return _interval(value, samples, confidence)


def mcnemar(first_correct: np.ndarray, second_correct: np.ndarray) -> dict[str, float | int]:
    """Exact McNemar test of two systems on the same items (a two-sided binomial test on the
    items exactly one of them gets right).

    Example:
        >>> mcnemar(np.array([1, 1, 1, 0]), np.array([1, 0, 0, 0]))["only_first"]
        2
    """
    from scipy.stats import binomtest

    first, second = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    only_first, only_second = int(np.sum(first & ~second)), int(np.sum(second & ~first))
    discordant = only_first + only_second
    p_value = binomtest(only_first, discordant, 0.5).pvalue if discordant else 1.0
    return {"only_first": only_first, "only_second": only_second,
            "both_wrong": int(np.sum(~first & ~second)), "p_value": float(p_value)}  # fmt: skip


def _interval(
    value: float | np.floating, samples: np.ndarray | None, confidence: float
) -> dict[str, float | None]:
    value = float(value)
    if samples is None or np.all(np.isnan(samples)):
        return {"value": value, "ci_low": None, "ci_high": None}
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return {"value": value, "ci_low": float(low), "ci_high": float(high)}
