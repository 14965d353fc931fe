"""EMOVO, Italian emotional speech corpus."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

NAME = re.compile(r"^(?P<code>[a-z]{3})-(?P<speaker>[fm]\d)-(?P<text_id>[a-z]\d)$")


def parse_name(path: Path) -> dict[str, str]:
    """Read emotion, speaker and sentence from an EMOVO file name.

    Example:
        >>> parse_name(Path("f1/dis-f1-b1.wav"))
        {'speaker': 'f1', 'gender': 'f', 'emotion': 'disgust', 'text_id': 'b1'}
    """
    match = NAME.match(path.stem.lower())
    if match is None:
        raise bad_name("emovo", path, "expected <emotion>-<speaker f1..m3>-<sentence>")
    return {"speaker": match["speaker"], "gender": match["speaker"][0],
            "emotion": map_code("emovo", match["code"], source=str(path)),
            "text_id": match["text_id"]}  # fmt: skip


class EMOVO:
    """EMOVO (Costantini et al. 2014, LREC): 6 actors (f1-f3, m1-m3), 14 sentences, Italian.

    Expects one folder per speaker: ``<root>/f1/dis-f1-b1.wav`` (searched recursively);
    emotion codes rab anger, dis disgust, pau fear, gio happiness, neu neutral, tri
    sadness, sor surprise. Extra: ``text_id`` (sentence code, e.g. ``b1``).

    Args:
        root: folder of the unpacked corpus.

    Example:
        >>> EMOVO(root="/data/emovo").root
        '/data/emovo'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="emovo")
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(root, corpus="emovo")]
        return build_manifest(rows, corpus="emovo", language="it")
