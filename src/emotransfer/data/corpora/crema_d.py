"""Crowd-sourced Emotional Multimodal Actors Dataset (CREMA-D), audio part."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

NAME = re.compile(
    r"^(?P<actor>\d{4})_(?P<text_id>[A-Z]{3})_(?P<code>[A-Z]{3})_(?P<level>[A-Z]{2})$"
)
LEVEL = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SEX = {"male": "m", "female": "f"}


def parse_name(path: Path) -> dict[str, str]:
    """Read actor, sentence, emotion and level from a CREMA-D file name.

    Example:
        >>> parse_name(Path("AudioWAV/1001_DFA_ANG_XX.wav"))
        {'speaker': '1001', 'text_id': 'DFA', 'emotion': 'anger', 'intensity': 'unspecified'}
    """
    match = NAME.match(path.stem)
    if match is None:
        raise bad_name("crema_d", path, "expected <actor>_<sentence>_<emotion>_<level>")
    if match["level"] not in LEVEL:
        raise bad_name("crema_d", path, f"unknown level {match['level']!r}; known: {list(LEVEL)}")
    return {"speaker": match["actor"], "text_id": match["text_id"],
            "emotion": map_code("crema_d", match["code"], source=str(path)),
            "intensity": LEVEL[match["level"]]}  # fmt: skip


def read_genders(path: Path) -> dict[str, str]:
    """Map actor id to 'm'/'f' from ``VideoDemographics.csv``; a missing file gives ``{}``."""
    if not path.is_file():
        return {}
    table = pd.read_csv(path, dtype=str)
    sex = table["Sex"].str.strip().str.lower().map(SEX).fillna("")
    return dict(zip(table["ActorID"].str.strip(), sex))


class CremaD:
    """CREMA-D (Cao et al. 2014, github.com/CheyneyComputerScience/CREMA-D): 91 actors, English.

    Expects the repository layout: ``<root>/AudioWAV/1001_DFA_ANG_XX.wav`` (actor id,
    sentence code, emotion ANG/DIS/FEA/HAP/NEU/SAD, level LO/MD/HI/XX) and, optionally,
    ``<root>/VideoDemographics.csv`` (columns ActorID, Sex) for gender; without it gender
    is empty. Extras: ``text_id``, ``intensity`` (low/medium/high/unspecified).

    Args:
        root: repository folder.

    Example:
        >>> CremaD(root="/data/crema_d").root
        '/data/crema_d'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="crema_d")
        folder = root / "AudioWAV" if (root / "AudioWAV").is_dir() else root
        genders = read_genders(root / "VideoDemographics.csv")
        rows = []
        for path in wav_files(folder, corpus="crema_d"):
            info = parse_name(path)
            rows.append({"file": str(path), "gender": genders.get(info["speaker"], ""), **info})
        return build_manifest(rows, corpus="crema_d", language="en")
