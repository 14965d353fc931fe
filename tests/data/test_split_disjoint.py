import numpy as np
import pandas as pd
import pytest
from tests.test_experiment import make_config

import emotransfer.experiment as experiment
from emotransfer.data.split_disjoint import SpeakerContentDisjoint
from emotransfer.data.splits import make_folds


def grid_table(speakers=6, sentences=5):
    rows = [
        {
            "file": f"{s}_{t}_{e}.wav",
            "corpus": "c",
            "speaker": f"s{s}",
            "text_id": f"t{t}",
            "emotion": e,
        }
        for s in range(speakers)
        for t in range(sentences)
        for e in "xy"
    ]
    return pd.DataFrame(rows)


def test_each_fold_holds_out_speakers_and_content_and_every_clip_is_tested_once():
    table = grid_table()
    folds = SpeakerContentDisjoint(folds=3, content_folds=2).split(table)
    assert len(folds) == 6
    tested = np.concatenate([fold.test for fold in folds])
    assert sorted(tested.tolist()) == list(range(len(table)))
    for fold in folds:
        train, test = table.iloc[fold.train], table.iloc[fold.test]
        assert not set(train["speaker"]) & set(test["speaker"])
        assert not set(train["text_id"]) & set(test["text_id"])
        # the training side is every clip of the other speakers saying the other content
        other = ~table["speaker"].isin(test["speaker"]) & ~table["text_id"].isin(test["text_id"])
        assert fold.train.tolist() == np.flatnonzero(other).tolist()
        assert {f"c/{s}" for s in test["speaker"]} | {
            f"text_id={t}" for t in test["text_id"]
        } == set(fold.held_out)
    # 6 speakers in 3 groups, 5 sentences in 2 groups: (2/3) x (2/5 or 3/5) of the clips train
    assert sorted({len(fold.train) for fold in folds}) == [16, 24]


def test_groups_are_seeded():
    table = grid_table()
    first = SpeakerContentDisjoint(folds=3, seed=1).split(table)
    again = SpeakerContentDisjoint(folds=3, seed=1).split(table)
    other = SpeakerContentDisjoint(folds=3, seed=2).split(table)
    assert [f.held_out for f in first] == [f.held_out for f in again]
    assert [f.held_out for f in first] != [f.held_out for f in other]


def test_make_folds_passes_the_content_column():
    table = grid_table().rename(columns={"text_id": "text"})
    folds = make_folds(table, kind="disjoint", folds=2, content="text", content_folds=5)
    assert len(folds) == 10 and folds[0].name == "speakers=1,content=1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="text_id"), "no column 'text_id'"),
        (
            lambda t: t.assign(text_id=[""] + list(t["text_id"][1:])),
            r"1 row\(s\) have no 'text_id' \(e.g. 0_0_x.wav\)",
        ),
        (lambda t: t[t["text_id"] == "t0"], "2 groups of text_id values, but there are 1"),
    ],
)
def test_bad_content_is_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        SpeakerContentDisjoint(folds=2).split(change(grid_table()))


def test_a_fold_with_nothing_to_test_is_refused():
    # each speaker says its own sentence: no clip of a held-out speaker says held-out content
    table = pd.DataFrame(
        {
            "file": list("abcd"),
            "corpus": "c",
            "speaker": list("aabb"),
            "text_id": list("aabb"),
            "emotion": list("xyxy"),
        }
    )
    with pytest.raises(ValueError, match="use fewer folds or content_folds"):
        SpeakerContentDisjoint(folds=2).split(table)


def test_a_run_with_the_disjoint_split(tmp_path, synthetic_root):
    config = make_config(tmp_path, synthetic_root, "name=disjoint", "split.kind=disjoint",
                         "split.folds=2", "split.content_folds=2")  # fmt: skip
    result = experiment.run(config, progress=False)
    predictions = pd.read_csv(result.run_dir / "predictions.csv")
    assert len(predictions) == 64 and predictions["file"].is_unique
    assert sorted(set(predictions["fold"])) == [
        f"speakers={i},content={j}" for i in (1, 2) for j in (1, 2)
    ]
    assert result.metrics["audit"]["ok"]


def test_inner_folds_of_a_disjoint_split_hold_speakers_and_content_out():
    from emotransfer.data.split_disjoint import inner_disjoint_splits

    table = grid_table(speakers=6, sentences=6)
    speakers, content = table["speaker"].to_numpy(), table["text_id"].to_numpy()
    splits = inner_disjoint_splits(speakers, content, folds=3, seed=0)
    assert len(splits) == 3
    for train, valid in splits:
        assert not set(speakers[train]) & set(speakers[valid])
        assert not set(content[train]) & set(content[valid])
        assert len(train) == 4 * 4 * 2 and len(valid) == 2 * 2 * 2  # 2/3 x 2/3 trains
    again = inner_disjoint_splits(speakers, content, folds=3, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(splits, again))
