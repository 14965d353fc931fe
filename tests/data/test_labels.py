import pandas as pd
import pytest

from emotransfer.data.labels import (
    CORPUS_MAPS,
    LabelSpec,
    apply_labels,
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
