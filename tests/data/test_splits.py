import numpy as np
import pandas as pd
import pytest

from emotransfer.data.splits import (
    LeakageError,
    audit_folds,
    inner_splits,
    make_folds,
    speaker_keys,
)

EMOTIONS = ["anger", "happiness", "neutral", "sadness"]


def corpus_table(corpus="c", speakers=("a", "b", "c", "d", "e", "f"), per_speaker=8, **extra):
    rows = [
        {
            "file": f"/{corpus}/{speaker}_{i}.wav",
            "corpus": corpus,
            "speaker": speaker,
            "emotion": EMOTIONS[i % len(EMOTIONS)],
            "session": f"ses{index // 2}",
        }
        for index, speaker in enumerate(speakers)
        for i in range(per_speaker)
    ]
    return pd.DataFrame(rows).assign(**extra)


def speakers_of(table, rows):
    return set(speaker_keys(table)[rows])


def test_loso_one_fold_per_speaker():
    table = corpus_table()
    folds = make_folds(table, kind="loso")
    assert [fold.name for fold in folds] == [f"speaker={s}" for s in "abcdef"]
    for fold, speaker in zip(folds, "abcdef"):
        assert fold.held_out == [f"c/{speaker}"]
        assert speakers_of(table, fold.test) == {f"c/{speaker}"}
        assert f"c/{speaker}" not in speakers_of(table, fold.train)
        assert len(fold.train) + len(fold.test) == len(table)
    assert audit_folds(table, folds, kind="loso")["ok"] is True


def test_same_speaker_code_in_two_corpora_is_two_speakers():
    table = pd.concat([corpus_table("x", ("01", "02")), corpus_table("y", ("01", "02"))])
    table = table.reset_index(drop=True)
    folds = make_folds(table, kind="loso")
    assert [fold.name for fold in folds] == [
        "speaker=x/01",
        "speaker=x/02",
        "speaker=y/01",
        "speaker=y/02",
    ]
    assert set(table.loc[folds[0].test, "corpus"]) == {"x"}
    cross = make_folds(table, kind="cross_corpus", train_corpora=["x"], test_corpora=["y"])
    assert audit_folds(table, cross)["speaker_overlap"] == {}


def test_speaker_kfold_is_speaker_disjoint_and_seeded():
    table = corpus_table(speakers=tuple("abcdefghij"))
    folds = make_folds(table, kind="speaker_kfold", folds=5, seed=3)
    assert [fold.name for fold in folds] == [f"fold={i}" for i in range(1, 6)]
    tested = []
    for fold in folds:
        assert not speakers_of(table, fold.train) & speakers_of(table, fold.test)
        assert fold.held_out == sorted(speakers_of(table, fold.test))
        tested.extend(fold.test)
    assert sorted(tested) == list(range(len(table)))  # each row tested exactly once
    again = make_folds(table, kind="speaker_kfold", folds=5, seed=3)
    assert [fold.held_out for fold in again] == [fold.held_out for fold in folds]
    others = [make_folds(table, kind="speaker_kfold", folds=5, seed=s) for s in range(4, 8)]
    assert any([f.held_out for f in o] != [f.held_out for f in folds] for o in others)


def test_speaker_kfold_needs_enough_speakers():
    with pytest.raises(ValueError, match="5 folds needs >= 5 speakers"):
        make_folds(corpus_table(speakers=("a", "b", "c")), kind="speaker_kfold", folds=5)


def test_leave_one_session_out():
    table = corpus_table()
    folds = make_folds(table, kind="leave_one_session_out")
    assert [fold.name for fold in folds] == ["session=ses0", "session=ses1", "session=ses2"]
    assert set(table.loc[folds[1].test, "speaker"]) == {"c", "d"}
    with pytest.raises(ValueError, match="'session' column"):
        make_folds(table.drop(columns="session"), kind="leave_one_session_out")


def test_predefined_split_without_leakage():
    table = corpus_table(speakers=("a", "b", "c"))
    table["split"] = np.where(table["speaker"] == "c", "Test", "train")
    (fold,) = make_folds(table, kind="predefined")
    assert fold.name == "split=test"
    assert speakers_of(table, fold.test) == {"c/c"}  # values match case-insensitively
    assert audit_folds(table, [fold])["ok"] is True


def test_predefined_split_leaking_speakers():
    table = corpus_table(speakers=("a", "b", "c"))
    table["split"] = ["train", "test"] * (len(table) // 2)
    folds = make_folds(table, kind="predefined")
    with pytest.raises(LeakageError, match="speaker leakage.*c/a.*allow_leakage"):
        audit_folds(table, folds, kind="predefined")
    audit = audit_folds(table, folds, kind="predefined", allow_leakage=True)
    assert audit["ok"] is False and audit["leakage_allowed"] is True
    assert audit["speaker_overlap"] == {"split=test": ["c/a", "c/b", "c/c"]}
    assert "LEAKAGE" in audit["note"]


def test_predefined_split_errors():
    table = corpus_table(speakers=("a", "b"))
    with pytest.raises(ValueError, match="no column 'fold'"):
        make_folds(table, kind="predefined", column="fold")
    with pytest.raises(ValueError, match="0 test rows"):
        make_folds(table.assign(split="train"), kind="predefined")


def test_cross_corpus():
    table = pd.concat([corpus_table("x"), corpus_table("y"), corpus_table("z")])
    table = table.reset_index(drop=True)
    (fold,) = make_folds(table, kind="cross_corpus", train_corpora=["x", "y"], test_corpora=["z"])
    assert fold.name == "x+y->z" and fold.held_out == ["z"]
    assert set(table.loc[fold.train, "corpus"]) == {"x", "y"}
    assert set(table.loc[fold.test, "corpus"]) == {"z"}
    with pytest.raises(ValueError, match="'w' is not loaded"):
        make_folds(table, kind="cross_corpus", train_corpora=["x"], test_corpora=["w"])
    with pytest.raises(ValueError, match="train_corpora and split.test_corpora"):
        make_folds(table, kind="cross_corpus", train_corpora=["x"])


def test_unknown_kind():
    with pytest.raises(ValueError, match="'random' is not a valid SplitKind"):
        make_folds(corpus_table(), kind="random")


@pytest.mark.parametrize("missing", ["", None, np.nan, "  "])
def test_rows_without_speaker_raise(missing):
    table = corpus_table(speakers=("a", "b"))
    table["speaker"] = table["speaker"].astype(object)
    table.loc[3, "speaker"] = missing
    with pytest.raises(ValueError, match=r"1 row\(s\) have no speaker \(e.g. /c/a_3.wav\)"):
        make_folds(table, kind="loso")


def test_loso_needs_two_speakers():
    with pytest.raises(ValueError, match="at least 2 speakers"):
        make_folds(corpus_table(speakers=("a",)), kind="loso")


def test_inner_splits_are_speaker_grouped():
    groups = np.repeat(np.array([f"c/s{i}" for i in range(6)]), 10)
    labels = np.tile(np.arange(2), 30)
    splits = inner_splits(groups, labels, folds=3, seed=0)
    assert len(splits) == 3
    for train, valid in splits:
        assert not set(groups[train]) & set(groups[valid])
    validated = np.concatenate([valid for _, valid in splits])
    assert sorted(validated) == list(range(60))
    assert len(inner_splits(groups[:20], labels[:20], folds=5, seed=0)) == 2  # capped by speakers
    same = inner_splits(groups, labels, folds=3, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(splits, same))
    with pytest.raises(ValueError, match="at least 2 speakers"):
        inner_splits(groups[:10], labels[:10], folds=3, seed=0)
