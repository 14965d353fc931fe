"""MELD: multimodal multi-party dialogues from the TV series *Friends* (Poria et al., ACL
2019), read from its utterance tables.

The official tables ``train_sent_emo.csv``, ``dev_sent_emo.csv`` and ``test_sent_emo.csv``
give each utterance's text, speaker, emotion (anger, disgust, fear, joy, neutral, sadness,
surprise), sentiment and dialogue / utterance ids. ``file`` names the clip where MELD's raw
release puts it (``train_splits/dia0_utt0``, ``dev_splits_complete/...``,
``output_repeated_splits_test/...``, under ``root``) as a ``.wav`` file: the release's clips
are ``.mp4`` videos, to be converted to 16 kHz ``.wav`` files of the same names for a run of
the audio (e.g. ``ffmpeg -i dia0_utt0.mp4 -ac 1 -ar 16000 dia0_utt0.wav``); a run of the text
alone never opens them.
The official partition is the ``split`` column (``train``, ``dev``, ``test``):
``split: {kind: predefined, train_values: [train, dev], test_values: [test]}``. The main
characters speak in every partition, so the official protocol is not speaker-independent
(set ``split.allow_leakage: true``; the report flags it).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import build_manifest, existing_root
from emotransfer.data.labels import map_code

TABLES = {"train": "train_sent_emo.csv", "dev": "dev_sent_emo.csv", "test": "test_sent_emo.csv"}
CLIPS = {"train": "train_splits", "dev": "dev_splits_complete",
         "test": "output_repeated_splits_test"}  # fmt: skip
COLUMNS = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")


class MELD:
    """MELD's utterance tables (see the module); every table present is read, and the clips
    are expected as ``<root>/train_splits/dia<D>_utt<U>.wav`` (converted from the release's
    mp4 files) where a run reads audio.

    Args:
        root: the folder holding ``train_sent_emo.csv``, ``dev_sent_emo.csv`` and
            ``test_sent_emo.csv`` (and, for audio, MELD's clip folders).

    Example:
        >>> MELD(root="/data/meld").root
        '/data/meld'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """The manifest of every utterance, with ``text``, ``split``, ``sentiment``,
        ``dialogue`` and ``text_id`` (the utterance's own id: MELD's texts rarely repeat).

        Raises:
            FileNotFoundError: no table in ``root``.
            ValueError: a table without MELD's columns (named), or an unknown emotion.
        """
        root = existing_root(self.root, corpus="meld")
        rows = []
        for split, name in TABLES.items():
            path = root / name
            if not path.is_file():
                continue
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            missing = [column for column in COLUMNS if column not in table]
            if missing:
                raise ValueError(f"meld: {path} has no column(s) {missing}")
            for record in table.itertuples(index=False):
                clip = f"dia{record.Dialogue_ID}_utt{record.Utterance_ID}"
                rows.append({
                    "file": str(root / CLIPS[split] / f"{clip}.wav"), "split": split,
                    "speaker": record.Speaker.strip(), "text": record.Utterance.strip(),
                    "emotion": map_code("meld", record.Emotion.strip().lower(),
                                        source=f"{path} ({clip})"),
                    "sentiment": record.Sentiment.strip(),
                    "dialogue": f"{split}/{record.Dialogue_ID}", "text_id": f"{split}/{clip}",
                })  # fmt: skip
        if not rows:
            raise FileNotFoundError(f"meld: no {' / '.join(TABLES.values())} in {root}")
        return build_manifest(rows, corpus="meld", language="en")
