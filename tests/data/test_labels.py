import pandas as pd
import pytest

from emotransfer.data.labels import (
    CORPUS_MAPS,
    VOCABULARY,
    LabelSpec,
    apply_labels,
    check_other,
    harmonise,
    label_summary,
    map_code,
)
from emotransfer.define import Emotion


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Angry", "anger"),
        ("ANG", "anger"),
        (" happy ", "happiness"),
        ("joy", "happiness"),
        ("Excited", "excitement"),
        ("Pleasant Surprise", "surprise"),
        ("fearful", "fear"),
        ("Q3", "q3"),
        ("sadness", "sadness"),
        ("Sarcasm", "sarcasm"),  # unknown labels pass through lower-cased
    ],
)
def test_harmonise(raw, expected):
    assert harmonise(raw) == expected


def test_corpus_maps_land_in_the_vocabulary():
    known = set(Emotion.values()) | {"excitement"}
    for corpus, mapping in CORPUS_MAPS.items():
        assert set(mapping.values()) <= known, corpus


def test_map_code():
    assert map_code("emodb", "W") == "anger"
    assert map_code("ravdess", "08") == "surprise"
    with pytest.raises(ValueError, match=r"emodb: unknown emotion code 'Z' in 03a01Za.wav"):
        map_code("emodb", "Z", source="03a01Za.wav")


def table(*emotions):
    return pd.DataFrame({"file": [f"/{i}.wav" for i in range(len(emotions))], "emotion": emotions})


def test_drop_other_labels():
    spec = LabelSpec(classes=["anger", "sadness"])
    result = apply_labels(table("Angry", "fear", "sad", "neutral"), spec)
    assert result["emotion"].tolist() == ["anger", "sadness"]
    assert result["file"].tolist() == ["/0.wav", "/2.wav"]
    assert result.index.tolist() == [0, 1]


def test_merge_other_labels_into_a_class():
    spec = LabelSpec(classes=["anger", "sadness", "neutral"], other="neutral")
    result = apply_labels(table("anger", "fear", "sad", "boredom"), spec)
    assert result["emotion"].tolist() == ["anger", "neutral", "sadness", "neutral"]


def test_merge_map_before_selection():
    spec = LabelSpec(classes=["anger", "happiness"], merge={"excitement": "happiness"})
    result = apply_labels(table("exc", "happy", "ang", "fru"), spec)
    assert result["emotion"].tolist() == ["happiness", "happiness", "anger"]


def test_no_classes_keeps_every_label_but_empty_ones():
    result = apply_labels(table("anger", "", "Calm"), LabelSpec())
    assert result["emotion"].tolist() == ["anger", "calm"]


def test_label_summary_counts():
    before = table("anger", "fear", "Angry", "sad")
    after = apply_labels(before, LabelSpec(classes=["anger", "sadness"]))
    summary = label_summary(after, before)
    assert summary["classes"] == {"anger": 2, "sadness": 1}
    assert (summary["rows_before"], summary["rows_after"]) == (4, 3)
    assert summary["labels_before"] == {"anger": 2, "fear": 1, "sadness": 1}


def test_labels_outside_the_vocabulary_are_refused():
    with pytest.raises(ValueError, match=r"1 label\(s\) outside .*'sarcasm' \(1 row, e.g. /1"):
        apply_labels(table("anger", "Sarcasm"), LabelSpec())
    assert "excitement" in VOCABULARY and set(Emotion.values()) <= set(VOCABULARY)
    kept = apply_labels(table("anger", "Sarcasm"), LabelSpec(other="keep"))
    assert kept["emotion"].tolist() == ["anger", "sarcasm"]
    merged = apply_labels(table("anger", "Sarcasm", "sad"), LabelSpec(other="neutral"))
    assert merged["emotion"].tolist() == ["anger", "neutral", "sadness"]


@pytest.mark.parametrize(
    ("other", "classes", "error"),
    [
        ("drop", [], None),
        ("keep", [], None),
        ("grumpy", ["anger", "grumpy"], None),
        ("calm", ["anger"], None),
        ("keep", ["anger"], "contradicts data.labels.classes"),
        ("neutrl", [], r"'neutrl' is not 'drop', 'keep' or a class \(did you mean 'neutral'\?\)"),
        ("grumpy", ["anger"], r"'grumpy' is not 'drop', 'keep' or a class$"),
    ],
)
def test_check_other(other, classes, error):
    if error is None:
        assert check_other(other, classes) == other
    else:
        with pytest.raises(ValueError, match=error):
            check_other(other, classes)


def test_label_summary_with_spec_counts_dropped_and_merged_labels():
    before = table("anger", "fear", "fear", "sad", "boredom")
    spec = LabelSpec(classes=["anger", "sadness"])
    summary = label_summary(apply_labels(before, spec), before, spec)
    assert summary["dropped_labels"] == {"boredom": 1, "fear": 2}
    spec = LabelSpec(classes=["anger", "sadness"], other="sadness")
    summary = label_summary(apply_labels(before, spec), before, spec)
    assert summary["merged_into_other"] == {"boredom": 1, "fear": 2}
    assert summary["classes"] == {"anger": 1, "sadness": 4}
