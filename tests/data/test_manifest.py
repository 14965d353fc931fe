import numpy as np
import pandas as pd
import pytest

from emotransfer.data.manifest import check_no_duplicates, normalize_manifest, row_key


def segments(*bounds, corpus="toy"):
    rows = [{"file": f, "start": s, "end": e, "emotion": "anger"} for f, s, e in bounds]
    return normalize_manifest(pd.DataFrame(rows), corpus=corpus)


def test_segments_of_one_file_are_not_duplicates():
    check_no_duplicates(segments(("/a.wav", 0.0, 1.0), ("/a.wav", 1.0, 2.0), ("/b.wav", 0, 1)))


def test_duplicate_segments_are_listed_with_their_corpus():
    table = pd.concat([
        segments(("/a.wav", 0.0, 1.0), ("/b.wav", np.nan, np.nan)),
        segments(("/a.wav", 0.0, 1.0), ("/b.wav", np.nan, np.nan), corpus="other"),
    ], ignore_index=True)  # fmt: skip
    with pytest.raises(ValueError) as caught:
        check_no_duplicates(table)
    message = str(caught.value)
    assert message.startswith("2 segment(s) appear more than once in the manifest")
    assert "\n  /a.wav[0.000:1.000] (2 rows, corpus other, toy)" in message
    assert "\n  /b.wav (2 rows, corpus other, toy)" in message


def test_row_key():
    table = segments(("/a.wav", 0.5, 1.25), ("/b.wav", np.nan, np.nan))
    assert [row_key(row) for _, row in table.iterrows()] == ["/a.wav[0.500:1.250]", "/b.wav"]
