"""MSP-Podcast corpus, English natural speech from podcasts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import build_manifest, existing_root
from emotransfer.data.labels import map_code

GENDER = {"male": "m", "female": "f"}
REQUIRED = ["FileName", "EmoClass"]


def read_labels(path: Path) -> pd.DataFrame:
    """Read ``labels_consensus.csv`` as strings; missing file or columns raise."""
    if not path.is_file():
        raise FileNotFoundError(f"msp_podcast: label file {str(path)!r} does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in REQUIRED:
        if column not in table.columns:
            raise ValueError(f"msp_podcast: {str(path)!r} has no column {column!r}")
    return table


def text(labels: pd.DataFrame, column: str) -> pd.Series:
    """One label column as stripped strings; an absent column gives empty strings."""
    if column not in labels.columns:
        return pd.Series("", index=labels.index)
    return labels[column].str.strip()


class MSPPodcast:
    """MSP-Podcast (Lotfian & Busso 2019, UT Dallas MSP lab, by licence): English podcasts.

    Expects the release layout ``<root>/Audios/MSP-PODCAST_0001_0008.wav`` and
    ``<root>/Labels/labels_consensus.csv`` with columns FileName, EmoClass (A, H, S, N, U,
    F, D, C, O, X), EmoAct, EmoVal, EmoDom (1-7, kept as arousal/valence/dominance),
    SpkrID, Gender (Male/Female/Unknown) and Split_Set. ``Unknown`` speakers and genders
    become ``''``. Extra: ``split`` (lower-cased: train, development, test1, ...).

    Args:
        root: corpus folder.
        audio_dir: audio folder relative to ``root``.
        labels: label csv relative to ``root``.

    Example:
        >>> MSPPodcast(root="/data/msp").labels
        'Labels/labels_consensus.csv'
    """

    def __init__(
        self,
        *,
        root: str | Path,
        audio_dir: str = "Audios",
        labels: str = "Labels/labels_consensus.csv",
    ) -> None:
        self.root = root
        self.audio_dir = audio_dir
        self.labels = labels

    def load(self) -> pd.DataFrame:
        """Return the manifest of every labelled file."""
        root = existing_root(self.root, corpus="msp_podcast")
        source = root / self.labels
        labels = read_labels(source)
        table = pd.DataFrame({
            "file": [str(root / self.audio_dir / name) for name in labels["FileName"]],
            "emotion": [map_code("msp_podcast", code, source=f"{source} ({name})")
                        for code, name in zip(labels["EmoClass"], labels["FileName"])],
            "arousal": text(labels, "EmoAct"), "valence": text(labels, "EmoVal"),
            "dominance": text(labels, "EmoDom"),
            "speaker": text(labels, "SpkrID").replace("Unknown", ""),
            "gender": text(labels, "Gender").str.lower().map(GENDER).fillna(""),
            "split": text(labels, "Split_Set").str.lower(),
        })  # fmt: skip
        table = build_manifest(table, corpus="msp_podcast", language="en")
        return table
