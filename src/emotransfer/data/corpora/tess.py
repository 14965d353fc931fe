"""Toronto Emotional Speech Set (TESS), English, two female speakers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

AGE_GROUP = {"OAF": "older", "YAF": "younger"}


def parse_name(path: Path) -> dict[str, str]:
    """Read speaker, word and emotion from a TESS file name (``OAF_back_angry.wav``).

    Example:
        >>> info = parse_name(Path("OAF_Pleasant_surprise/OAF_back_ps.wav"))
        >>> info["speaker"], info["gender"], info["age_group"], info["text_id"], info["emotion"]
        ('OAF', 'f', 'older', 'back', 'surprise')
    """
    parts = path.stem.split("_")
    speaker = parts[0].upper()
    if len(parts) < 3 or speaker not in AGE_GROUP:
        raise bad_name("tess", path, "expected OAF_<word>_<emotion> or YAF_<word>_<emotion>")
    return {"speaker": speaker, "gender": "f", "age_group": AGE_GROUP[speaker],
            "text_id": "_".join(parts[1:-1]),
            "emotion": map_code("tess", parts[-1].lower(), source=str(path))}  # fmt: skip


class TESS:
    """TESS (Dupuis & Pichora-Fuller 2010, University of Toronto dataverse): 2,800 files.

    Expects the distributed folders, searched recursively for ``*.wav``, e.g.
    ``<root>/TESS Toronto emotional speech set data/OAF_angry/OAF_back_angry.wav``:
    speaker OAF (older) or YAF (younger), both female; the carrier-phrase target word;
    emotion angry/disgust/fear/happy/neutral/ps (pleasant surprise)/sad. Extras:
    ``text_id`` (the word), ``age_group``.

    Args:
        root: folder holding the unpacked corpus.

    Example:
        >>> TESS(root="/data/tess").root
        '/data/tess'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="tess")
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(root, corpus="tess")]
        return build_manifest(rows, corpus="tess", language="en")
