"""Surrey Audio-Visual Expressed Emotion (SAVEE), audio part, British English."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

NAME = re.compile(r"^(?:(?P<speaker>[A-Z]{2})_)?(?P<code>[a-z]{1,2})(?P<number>\d{2})$")
SPEAKER = re.compile(r"^[A-Z]{2}$")


def parse_name(path: Path) -> dict[str, str]:
    """Read speaker, emotion and sentence from ``DC/a01.wav`` or the flat ``DC_a01.wav``.

    Example:
        >>> parse_name(Path("AudioData/JK/sa03.wav"))
        {'speaker': 'JK', 'gender': 'm', 'emotion': 'sadness', 'text_id': 'sa03'}
        >>> parse_name(Path("DC_a01.wav"))["speaker"]
        'DC'
    """
    match = NAME.match(path.stem)
    if match is None:
        raise bad_name("savee", path, "expected [<speaker>_]<emotion code><2-digit number>")
    speaker = match["speaker"] or path.parent.name
    if not SPEAKER.match(speaker):
        raise bad_name("savee", path, "no speaker prefix and the folder is not a speaker code")
    return {"speaker": speaker, "gender": "m",
            "emotion": map_code("savee", match["code"], source=str(path)),
            "text_id": match["code"] + match["number"]}  # fmt: skip


class SAVEE:
    """SAVEE (Haq & Jackson, University of Surrey): 4 male speakers DC/JE/JK/KL, 480 files.

    Reads either the official layout ``<root>/AudioData/DC/a01.wav`` or the flat
    Kaggle-style names ``<root>/DC_a01.wav`` (searched recursively). Emotion codes: a anger,
    d disgust, f fear, h happiness, n neutral, sa sadness, su surprise. Extra: ``text_id``
    = code + number (``a01``; same id = same sentence across speakers).

    Args:
        root: folder of the unpacked corpus.

    Example:
        >>> SAVEE(root="/data/savee").root
        '/data/savee'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="savee")
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(root, corpus="savee")]
        return build_manifest(rows, corpus="savee", language="en")
