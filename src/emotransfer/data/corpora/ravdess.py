"""Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS), audio-only part."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
AUDIO_ONLY = "03"
CHANNEL = {"01": "speech", "02": "song"}
INTENSITY = {"01": "normal", "02": "strong"}


def parse_name(path: Path) -> dict[str, object]:
    """Read the seven dash-separated RAVDESS identifiers from a file name.

    Example:
        >>> info = parse_name(Path("Actor_01/03-01-05-01-02-01-01.wav"))
        >>> info["speaker"], info["gender"], info["emotion"], info["vocal_channel"]
        ('01', 'm', 'anger', 'speech')
    """
    match = NAME.match(path.stem)
    if match is None:
        raise bad_name("ravdess", path, "expected 7 two-digit fields separated by '-'")
    modality, channel, code, intensity, statement, repetition, actor = match.groups()
    if channel not in CHANNEL or intensity not in INTENSITY or int(actor) == 0:
        raise bad_name("ravdess", path, "unknown vocal channel, intensity or actor 00")
    return {"modality": modality, "vocal_channel": CHANNEL[channel],
            "emotion": map_code("ravdess", code, source=str(path)),
            "intensity": INTENSITY[intensity], "text_id": statement,
            "repetition": int(repetition), "speaker": actor,
            "gender": "m" if int(actor) % 2 else "f"}  # fmt: skip


class RAVDESS:
    """RAVDESS (Livingstone & Russo 2018, Zenodo): 24 actors, North-American English.

    Expects the Zenodo audio archives unpacked: ``<root>/**/Actor_01/03-01-05-01-02-01-01.wav``
    (speech and song archives may sit side by side). Fields: modality, vocal channel,
    emotion, intensity, statement, repetition, actor; odd actors are male. Only the
    audio-only modality (03) is kept. Speech and song both get domain ``speech``; the
    ``vocal_channel`` column tells them apart. Extras: ``vocal_channel``, ``intensity``
    (normal/strong), ``text_id`` (statement 01/02), ``repetition``.

    Args:
        root: folder holding the ``Actor_XX`` folders.

    Example:
        >>> RAVDESS(root="/data/ravdess").root
        '/data/ravdess'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of the audio-only files."""
        root = existing_root(self.root, corpus="ravdess")
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(root, corpus="ravdess")]
        rows = [row for row in rows if row.pop("modality") == AUDIO_ONLY]
        return build_manifest(rows, corpus="ravdess", language="en")
