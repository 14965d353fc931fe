"""Tests for emotransfer.reporting.plots."""

import math

import numpy as np
import pytest

from emotransfer.reporting.plots import (
    confusion_matrix_figure,
    fold_figure,
    per_class_recall_figure,
    save_figure,
)

CLASSES = ["anger", "neutral", "sadness"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_has_matrix_and_colour_bar():
    figure = confusion_matrix_figure([[4, 1, 0], [0, 5, 0], [1, 0, 3]], CLASSES)
    assert len(figure.axes) == 2
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert len(texts) == 9
    assert texts[0] == "80.0%\n(4)"


def test_confusion_matrix_zero_row_stays_zero_not_nan():
    figure = confusion_matrix_figure([[2, 0, 0], [0, 0, 0], [0, 1, 1]], CLASSES)
    shown = np.asarray(figure.axes[0].images[0].get_array())
    assert not np.isnan(shown).any()
    assert shown[1].tolist() == [0.0, 0.0, 0.0]
    assert shown[2].tolist() == [0.0, 50.0, 50.0]


def test_confusion_matrix_counts_without_normalisation():
    figure = confusion_matrix_figure([[2, 1], [0, 3]], CLASSES[:2], normalize=False)
    assert [text.get_text() for text in figure.axes[0].texts] == ["2", "1", "0", "3"]


def test_confusion_matrix_rejects_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix_figure([[1, 2]], CLASSES)


def test_per_class_recall_bars_and_chance_line():
    recall = {
        "anger": {"value": 0.9, "ci_low": 0.8, "ci_high": 0.95},
        "neutral": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "sadness": {"value": 0.7},
    }
    figure = per_class_recall_figure(recall)
    assert len(figure.axes) == 1
    axes = figure.axes[0]
    assert [bar.get_height() for bar in axes.patches] == [0.9, 0.5, 0.7]
    chance = [line for line in axes.lines if line.get_label() == "chance"]
    assert math.isclose(chance[0].get_ydata()[0], 1 / 3)


def test_fold_figure_names_folds_and_draws_mean():
    folds = [{"fold": "speaker=03", "uar": 0.8}, {"fold": "speaker=08", "uar": 0.6}, {"fold": "x"}]
    figure = fold_figure(folds)
    assert len(figure.axes) == 1
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == [
        "speaker=03",
        "speaker=08",
        "x",
    ]
    assert math.isclose(axes.lines[0].get_ydata()[0], 0.7)


def test_empty_inputs_still_make_figures():
    assert len(fold_figure([]).axes) == 1
    assert len(per_class_recall_figure({}).axes) == 1


def test_save_figure_writes_png_atomically(tmp_path):
    path = save_figure(fold_figure([{"fold": "a", "uar": 0.5}]), tmp_path / "folds.png")
    assert path == tmp_path / "folds.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [item.name for item in tmp_path.iterdir()] == ["folds.png"]
