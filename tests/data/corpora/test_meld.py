import pandas as pd
import pytest

from emotransfer.data.corpora.meld import MELD

HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID",
          "Utterance_ID", "Season", "Episode", "StartTime", "EndTime"]  # fmt: skip


def table(rows):
    return pd.DataFrame([[i + 1, *row, 1, 1, "00:00:01,000", "00:00:02,000"]
                         for i, row in enumerate(rows)], columns=HEADER)  # fmt: skip


def test_the_official_tables_become_a_manifest_with_text_and_split(tmp_path):
    table([["Oh my God!", "Rachel", "surprise", "positive", 0, 0],
           ["Get out.", "Ross ", "anger", "negative", 0, 1]]).to_csv(
        tmp_path / "train_sent_emo.csv", index=False)  # fmt: skip
    table([["I'm fine.", "Monica", "joy", "positive", 3, 0]]).to_csv(
        tmp_path / "test_sent_emo.csv", index=False)  # fmt: skip
    manifest = MELD(root=tmp_path).load().sort_values("text_id").reset_index(drop=True)
    assert manifest["emotion"].tolist() == ["happiness", "surprise", "anger"]
    assert manifest["split"].tolist() == ["test", "train", "train"]
    assert manifest["text"].tolist() == ["I'm fine.", "Oh my God!", "Get out."]
    assert manifest["speaker"].tolist() == ["Monica", "Rachel", "Ross"]
    assert manifest["file"].iloc[2].endswith("train_splits/dia0_utt1.wav")
    assert set(manifest["corpus"]) == {"meld"} and set(manifest["language"]) == {"en"}


def test_bad_tables_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no train_sent_emo.csv"):
        MELD(root=tmp_path).load()
    table([["Hm.", "Joey", "boredom", "neutral", 0, 0]]).to_csv(
        tmp_path / "dev_sent_emo.csv", index=False)  # fmt: skip
    with pytest.raises(ValueError, match=r"unknown emotion code 'boredom' in .*dev_sent_emo.csv"):
        MELD(root=tmp_path).load()
    pd.DataFrame({"Utterance": ["x"]}).to_csv(tmp_path / "dev_sent_emo.csv", index=False)
    with pytest.raises(ValueError, match="has no column"):
        MELD(root=tmp_path).load()
