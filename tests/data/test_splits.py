import numpy as np
import pandas as pd
import pytest

from emotransfer.config import load_config
from emotransfer.data.splits import (
    LeakageError,
    UnlearnableClassError,
    audit_folds,
    drop_unlearnable,
    inner_splits,
    make_folds,
    speaker_keys,
    unlearnable_classes,
)
from emotransfer.prepare import prepare_manifest

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
    # each speaker's first four clips (one per class) train, the other four test
    table["split"] = np.where(np.arange(len(table)) % 8 < 4, "train", "test")
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
    with pytest.raises(ValueError, match="'random' is not a known split; known: .*loso"):
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


def test_class_of_one_speaker_cannot_be_learnt_in_its_loso_fold():
    table = corpus_table(speakers=("a", "b", "c"))
    table.loc[(table["speaker"] == "b") & (table["emotion"] == "sadness"), "emotion"] = "fear"
    folds = make_folds(table, kind="loso")
    assert unlearnable_classes(table, folds) == {"speaker=b": ["fear"]}
    with pytest.raises(UnlearnableClassError) as caught:
        audit_folds(table, folds, kind="loso")
    message = str(caught.value)
    assert "class 'fear' in fold speaker=b (test speakers with it: c/b; 2 rows)" in message
    for option in ("data.labels.merge", "data.labels.classes", "split.unlearnable=drop"):
        assert option in message


def test_cross_corpus_class_missing_from_training_corpora():
    table = pd.concat([corpus_table("x"), corpus_table("y")]).reset_index(drop=True)
    table.loc[(table["corpus"] == "x") & (table["emotion"] == "neutral"), "emotion"] = "anger"
    folds = make_folds(table, kind="cross_corpus", train_corpora=["x"], test_corpora=["y"])
    assert unlearnable_classes(table, folds) == {"x->y": ["neutral"]}
    with pytest.raises(UnlearnableClassError, match=r"class 'neutral' in fold x->y .*y/a"):
        audit_folds(table, folds)
    reverse = make_folds(table, kind="cross_corpus", train_corpora=["y"], test_corpora=["x"])
    assert unlearnable_classes(table, reverse) == {}  # trained but never tested is fine


def test_drop_unlearnable_removes_the_class_from_every_fold():
    table = corpus_table(speakers=("a", "b", "c"))
    table.loc[(table["speaker"] == "b") & (table["emotion"] == "sadness"), "emotion"] = "fear"
    kept, found, skipped = drop_unlearnable(table, lambda t: make_folds(t, kind="loso"))
    assert sorted(set(kept["emotion"])) == ["anger", "happiness", "neutral", "sadness"]
    assert found == {"speaker=b": ["fear"]} and len(kept) == len(table) - 2
    assert skipped == [
        {"file": f"/c/b_{i}.wav", "problem": "class 'fear' cannot be learnt in fold speaker=b "
         "(split.unlearnable=drop)"} for i in (3, 7)
    ]  # fmt: skip
    assert audit_folds(kept, make_folds(kept, kind="loso"))["ok"] is True
    two = table[table["emotion"].isin(["anger", "fear"])].reset_index(drop=True)
    with pytest.raises(ValueError, match="leaves fewer than 2 classes"):
        drop_unlearnable(two, lambda t: make_folds(t, kind="loso"))


def test_split_unlearnable_drop_lists_the_rows_in_prepare_manifest(tmp_path):
    root = tmp_path / "toy"
    (root / "audio").mkdir(parents=True)
    rows = ["file,speaker,emotion"] + [
        f"audio/{speaker}{i}.wav,{speaker},{emotion}"
        for speaker in "abc"
        for i, emotion in enumerate(["anger", "sadness", "fear" if speaker == "c" else "anger"])
    ]
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    for row in rows[1:]:
        (root / row.split(",")[0]).write_bytes(b"")  # existence is all the manifest checks
    overrides = [f"data.corpora=[{{name: csv, root: {root}}}]"]
    table, info, skipped = prepare_manifest(load_config(None, overrides=overrides))
    with pytest.raises(UnlearnableClassError, match="class 'fear' in fold speaker=c"):
        audit_folds(table, make_folds(table, kind="loso"))
    config = load_config(None, overrides=[*overrides, "split.unlearnable=drop"])
    table, info, skipped = prepare_manifest(config)
    assert "fear" not in set(table["emotion"]) and info["classes"] == {"anger": 5, "sadness": 3}
    assert info["unlearnable"] == {"folds": {"speaker=c": ["fear"]}, "rows_dropped": 1}
    assert skipped == [{"file": str(root / "audio/c2.wav"), "problem": "class 'fear' cannot be "
                        "learnt in fold speaker=c (split.unlearnable=drop)"}]  # fmt: skip


def test_a_plugin_split_is_built_only_when_allowed():
    from emotransfer.registry import PluginError

    table = pd.DataFrame({"corpus": "c", "speaker": ["b", "a", "a", "b"], "emotion": "x"})
    name = "tests.data.plugins:FirstSpeakerOut"
    with pytest.raises(PluginError, match="is a class path"):
        make_folds(table, kind=name)
    (fold,) = make_folds(table, kind=name, plugins=[name])
    assert fold.name == "first=c/a" and fold.test.tolist() == [1, 2]


def test_training_rows_are_limited_per_class_with_a_seeded_draw():
    from emotransfer.data.splits import Fold, limit_per_class

    labels = np.array(["a"] * 10 + ["b"] * 3 + ["c"] * 6)
    folds = [Fold("f0", np.arange(18), np.array([18])), Fold("f1", np.arange(1, 19), np.array([0]))]
    limited = limit_per_class(folds, labels, 4, seed=0)
    for fold, before in zip(limited, folds):
        counts = dict(zip(*np.unique(labels[fold.train], return_counts=True)))
        assert counts == {"a": 4, "b": 3, "c": 4}  # a class with fewer keeps all of them
        assert set(fold.train) <= set(before.train) and fold.test.tolist() == before.test.tolist()
    assert limit_per_class(folds, labels, 4, seed=0)[0].train.tolist() == limited[0].train.tolist()
    assert limit_per_class(folds, labels, 4, seed=1)[0].train.tolist() != limited[0].train.tolist()


def test_the_split_setting_limits_every_training_fold(tmp_path, synthetic_root):
    from emotransfer.config import load_config
    from emotransfer.prepare import experiment_folds, prepare_manifest

    config = load_config(None, overrides=[
        f"data.corpora=[{{name: synthetic, root: {synthetic_root}, "
        "params: {num_speakers: 4, utterances_per_emotion: 4}}]", "split.train_per_class=2",
    ])  # fmt: skip
    table, _, _ = prepare_manifest(config)
    for fold in experiment_folds(config, table):
        counts = table["emotion"].iloc[fold.train].value_counts()
        assert (counts == 2).all() and len(fold.test) == 4 * table["emotion"].nunique()
