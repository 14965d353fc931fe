import json
import logging

import numpy as np
import pytest

from emotransfer.data.splits import Fold
from emotransfer.fold_store import load_fold, save_fold
from emotransfer.training.frozen import FoldResult

FOLD = Fold("speaker=a", np.array([2, 3]), np.array([0, 1]))


def saved(tmp_path):
    path = tmp_path / "speaker=a.json"
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8]])
    save_fold(path, "d1", FoldResult(FOLD.name, FOLD.test, np.array([0, 1]), probabilities,
                                     {"C": 1.0}, [0.5]))  # fmt: skip
    return path


def test_a_saved_fold_is_read_back_for_its_digest_and_rows(tmp_path):
    path = saved(tmp_path)
    result = load_fold(path, "d1", FOLD)
    assert result.predicted.tolist() == [0, 1] and result.best_params == {"C": 1.0}
    assert load_fold(path, "d2", FOLD) is None
    assert load_fold(path, "d1", Fold("speaker=a", np.array([0, 3]), np.array([1, 2]))) is None


@pytest.mark.parametrize(
    "edit",
    [lambda d: d.pop("predicted"), lambda d: d.update(predicted=[0]),
     lambda d: d.update(probabilities=[[1.0, 0.0]]), lambda d: d.update(dimensions=[1, 2])],
)  # fmt: skip
def test_a_malformed_saved_fold_is_logged_and_recomputed(tmp_path, caplog, edit):
    path = saved(tmp_path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="emotransfer"):
        assert load_fold(path, "d1", FOLD) is None
    assert f"saved fold {path} is unreadable" in caplog.text
