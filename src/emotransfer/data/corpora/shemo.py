"""Sharif Emotional Speech Database (ShEMO), Persian radio-play speech."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

NAME = re.compile(r"^(?P<gender>[FM])(?P<number>\d{2})(?P<code>[A-Z])(?P<utterance>\d{2})$")


def parse_name(path: Path) -> dict[str, str]:
    """Read gender, speaker and emotion from a ShEMO file name.

    Example:
        >>> parse_name(Path("male/M01N02.wav"))
        {'speaker': 'M01', 'gender': 'm', 'emotion': 'neutral'}
    """
    match = NAME.match(path.stem)
    if match is None:
        raise bad_name("shemo", path, "expected <F|M><2-digit speaker><emotion><2-digit number>")
    return {"speaker": match["gender"] + match["number"], "gender": match["gender"].lower(),
            "emotion": map_code("shemo", match["code"], source=str(path))}  # fmt: skip


class ShEMO:
    """ShEMO (Mohamad Nezami et al. 2019, github.com/mansourehk/ShEMO): 87 speakers, Persian.

    Expects ``<root>/female/F01A01.wav`` and ``<root>/male/M01N02.wav`` (searched
    recursively): gender letter, 2-digit speaker, emotion letter (A anger, H happiness,
    N neutral, S sadness, W surprise, F fear), 2-digit utterance number. The speaker is
    gender letter + number (``F01``).

    Args:
        root: folder of the unpacked corpus.

    Example:
        >>> ShEMO(root="/data/shemo").root
        '/data/shemo'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="shemo")
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(root, corpus="shemo")]
        return build_manifest(rows, corpus="shemo", language="fa")
