"""Berlin Database of Emotional Speech (EmoDB), German acted speech."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import bad_name, build_manifest, existing_root, wav_files
from emotransfer.data.labels import map_code

GENDER = {"03": "m", "10": "m", "11": "m", "12": "m", "15": "m",
          "08": "f", "09": "f", "13": "f", "14": "f", "16": "f"}  # fmt: skip
NAME = re.compile(r"^(?P<speaker>\d{2})(?P<text_id>[a-z]\d{2})(?P<code>[A-Z])(?P<version>[a-z])$")


def parse_name(path: Path) -> dict[str, str]:
    """Read speaker, text, emotion and version from an EmoDB file name.

    Example:
        >>> parse_name(Path("wav/03a01Fa.wav"))
        {'speaker': '03', 'gender': 'm', 'text_id': 'a01', 'emotion': 'happiness', 'version': 'a'}
    """
    match = NAME.match(path.stem)
    if match is None:
        raise bad_name("emodb", path, "expected <speaker 2 digits><text 3 chars><emotion><version>")
    speaker = match["speaker"]
    return {"speaker": speaker, "gender": GENDER.get(speaker, ""), "text_id": match["text_id"],
            "emotion": map_code("emodb", match["code"], source=str(path)),
            "version": match["version"]}  # fmt: skip


class EmoDB:
    """EmoDB (Burkhardt et al. 2005): 10 actors, 7 emotions, 535 utterances, German.

    Expects the official download unpacked: ``<root>/wav/03a01Fa.wav`` (``<root>`` itself
    is searched when there is no ``wav`` folder). The name holds the speaker (2 digits),
    the text code (``a01``), the emotion letter (W anger, L boredom, E disgust, A fear,
    F happiness, T sadness, N neutral) and a version letter. Gender comes from the
    official speaker list. Extras: ``text_id``, ``version``.

    Args:
        root: folder of the unpacked corpus.

    Raises:
        FileNotFoundError: ``root`` or its wav files are missing.
        ValueError: a file name does not follow the convention.

    Example:
        >>> EmoDB(root="/data/emodb").root
        '/data/emodb'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every wav file."""
        root = existing_root(self.root, corpus="emodb")
        folder = root / "wav" if (root / "wav").is_dir() else root
        rows = [{"file": str(p), **parse_name(p)} for p in wav_files(folder, corpus="emodb")]
        return build_manifest(rows, corpus="emodb", language="de")
