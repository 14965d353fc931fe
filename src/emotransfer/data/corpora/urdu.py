"""URDU dataset: natural Urdu speech from TV talk shows."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import CORPUS_MAPS, map_code

NAME = re.compile(r"^(?P<speaker>S(?P<gender>[MF])\d+)_(?P<clip>F\d+)_(?P<code>[A-Z])\d+$")
FOLDERS = {"Angry", "Happy", "Neutral", "Sad"}


def parse_name(path: Path) -> dict[str, str]:
    """Read speaker and emotion from ``Angry/SM1_F10_A010.wav``; folder and letter must agree.

    Example:
        >>> parse_name(Path("Sad/SF10_F1_S01.wav"))
        {'speaker': 'SF10', 'gender': 'f', 'emotion': 'sadness'}
    """
    match = NAME.match(path.stem)
    if match is None:
        raise bad_name("urdu", path, "expected <SM|SF><number>_F<number>_<emotion><number>")
    emotion = map_code("urdu", match["code"], source=str(path))
    folder = path.parent.name
    if folder in FOLDERS and CORPUS_MAPS["urdu"][folder] != emotion:
        raise bad_name("urdu", path, f"emotion letter {match['code']!r} contradicts folder")
    return {"speaker": match["speaker"], "gender": match["gender"].lower(), "emotion": emotion}


class URDU:
    """URDU (Latif et al. 2018, github.com/siddiquelatif/URDU-Dataset): 400 clips, 4 emotions.

    Expects the repository folders ``<root>/Angry|Happy|Neutral|Sad/SM1_F10_A010.wav``
    (searched recursively). The speaker is the first token (``SM1``, ``SF10``, as in the
    shared metadata), its 2nd letter the gender; the last token starts with the emotion
    letter (A, H, N, S), which must agree with the folder.

    Args:
        root: repository folder.

    Example:
        >>> URDU(root="/data/urdu").root
        '/data/urdu'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="urdu")
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(root, corpus="urdu")]
        return build_manifest(rows, corpus="urdu", language="ur")
