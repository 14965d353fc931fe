import numpy as np
import pandas as pd
import pytest

from emotransfer.data.confounds import between_variance, confound_audit, mutual_information


def table_of(rows):
    return pd.DataFrame([{"corpus": "c", "file": f"{s}_{i}.wav", "speaker": s, "emotion": e}
                         for i, (s, e) in enumerate(rows)])  # fmt: skip


def test_speakers_of_one_emotion_are_flagged_with_their_figures():
    rows = [(s, e) for s, e in zip("abcd", ["anger", "anger", "sadness", "sadness"])
            for _ in range(5)]  # fmt: skip
    audit = confound_audit(table_of(rows))
    speaker = audit["groups"]["speaker"]
    assert speaker["one_label_count"] == 4 and speaker["one_label_clips"] == 1.0
    assert speaker["mutual_information"] == pytest.approx(1.0) and speaker["mi_share"] == 1.0
    assert speaker["distribution"]["c/a"] == {"anger": 5}
    assert audit["warn"] and "4 of 4 speakers (100 %" in audit["notes"][0]


def test_speakers_with_every_emotion_are_not_flagged():
    rows = [(s, e) for s in "abcd" for e in ("anger", "sadness", "joy") for _ in range(2)]
    audit = confound_audit(table_of(rows))
    speaker = audit["groups"]["speaker"]
    assert speaker["one_label_count"] == 0 and speaker["classes_per_group"] == 3.0
    assert speaker["mutual_information"] == pytest.approx(0.0, abs=1e-12)
    assert not audit["warn"] and audit["notes"] == []


def test_a_nearly_pure_speaker_counts_and_a_sentence_confound_is_found_too():
    rows = [("a", "anger")] * 9 + [("a", "joy")] + [("b", "joy")] * 5 + [("b", "anger")] * 5
    table = table_of(rows).assign(text=["angry words"] * 9 + ["nice"] * 11)
    audit = confound_audit(table)
    assert audit["groups"]["speaker"]["one_label_count"] == 1  # 9 of 10 is "nearly one"
    assert audit["groups"]["text"]["one_label_count"] == 1
    assert audit["warn"] and any(note.startswith("1 of 2 texts") for note in audit["notes"])
    # a telling content column points to the split that holds the content out
    text_note = next(note for note in audit["notes"] if note.startswith("1 of 2 texts"))
    assert text_note.endswith("(split.kind: disjoint, split.content: text)")
    speaker_note = next(note for note in audit["notes"] if "speakers" in note)
    assert "disjoint" not in speaker_note


def test_dimensions_get_their_share_of_variance_between_speakers():
    keys = np.array(["a"] * 4 + ["b"] * 4)
    assert between_variance(keys, np.array([1.0] * 4 + [3.0] * 4)) == 1.0
    assert between_variance(keys, np.array([1.0, 3.0] * 4)) == 0.0
    assert between_variance(keys, np.full(8, 2.0)) is None
    rows = [(s, "anger") for s in "ab" for _ in range(4)]
    audit = confound_audit(table_of(rows).assign(arousal=[0.9] * 4 + [0.1] * 4),
                           dimensions=("arousal",))  # fmt: skip
    assert audit["groups"]["speaker"]["between_variance"] == {"arousal": 1.0}


def test_a_single_speaker_or_missing_speakers_get_a_note_not_figures():
    one = confound_audit(table_of([("a", "anger"), ("a", "joy")]))
    assert "speaker" not in one["groups"] and "one speaker only" in one["notes"][0]
    missing = table_of([("a", "anger"), ("", "joy")])
    audit = confound_audit(missing)
    assert "1 of 2 rows have no value (e.g. _1.wav)" in audit["notes"][0]


def test_mutual_information_is_in_bits():
    assert mutual_information(np.array([[4, 0, 0], [0, 4, 0], [0, 0, 4]])) == pytest.approx(
        np.log2(3))  # fmt: skip


def test_groups_of_one_clip_tell_nothing_and_raise_no_warning():
    rows = [(s, e) for s in "abcd" for e in ("anger", "joy") for _ in range(3)]
    table = table_of(rows).assign(text=[f"sentence {i}" for i in range(len(rows))])
    audit = confound_audit(table)
    assert audit["groups"]["text"]["single_clip_groups"] == len(rows)
    assert not audit["warn"]  # every transcript is unique: no sentence confound
    own = confound_audit(table_of([(f"file:{i}", e) for i, e in enumerate(["anger", "joy"] * 3)]))
    figures = own["groups"]["speaker"]
    assert figures["one_label_count"] == 6 and figures["single_clip_groups"] == 6
    assert not own["warn"]  # each clip its own speaker: no confound, but nothing to z-score
