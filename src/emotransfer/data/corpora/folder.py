"""A corpus laid out as one folder per class: ``<root>/<class>/[...]/<clip>.wav``.

The common layout of small private collections and of many downloads (``angry/``,
``happy/`` ...): the first folder below the root is the label (column ``label`` as written,
``emotion`` harmonised: ``angry`` is ``anger``; ``data.labels.column: label`` predicts the
names as they are, for a target other than emotions), the speaker comes from a folder level
or from the file name, and nothing else is needed. A file directly under the root has no
class and is refused, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import build_manifest, existing_root
from emotransfer.data.labels import harmonise
from emotransfer.define import Domain

# What soundfile (libsndfile) decodes.
EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class FolderCorpus:
    """One folder per class: <root>/<class>/[<speaker>/]<clip>.wav (.flac, .ogg, .mp3 too).

    Any audio file below a class folder (``.wav``, ``.flac``, ``.ogg``, ``.mp3``, ``.aiff``)
    is a clip of that class.

    Args:
        root: the folder of class folders.
        speaker: where each clip's speaker comes from: ``"folder"`` (the folder right below
            the class folder: ``<class>/<speaker>/<clip>``), a regular expression with a
            group named ``speaker`` matched against the file name (``"^(?P<speaker>[^_]+)_"``
            reads ``s03_take1.wav`` as speaker ``s03``), or ``None``: unknown, each clip its
            own speaker group (speaker-independent splits stay honest, per-speaker
            normalisation becomes per clip).
        language: the corpus language (ISO 639-1; ``"und"``: unknown).
        domain: ``speech`` or ``music``.

    Raises:
        FileNotFoundError: ``root`` does not exist or holds no audio file in a class folder.
        ValueError: a file lies directly under ``root``, a name does not match the speaker
            pattern, or a clip has no speaker folder (each names the file).

    Example:
        >>> FolderCorpus(root="/data/mine", speaker="folder").speaker
        'folder'
    """

    def __init__(
        self,
        *,
        root: str | Path,
        speaker: str | None = None,
        language: str = "und",
        domain: str = Domain.SPEECH,
    ) -> None:
        self.root = root
        self.speaker = speaker
        self.language = language
        self.domain = domain

    def load(self) -> pd.DataFrame:
        """Return the manifest of every audio file in a class folder."""
        root = existing_root(self.root, corpus="folder")
        pattern = None
        if self.speaker not in (None, "folder"):
            try:
                pattern = re.compile(str(self.speaker))
            except re.error as error:
                raise ValueError(f"folder: speaker pattern {self.speaker!r}: {error}") from None
            if "speaker" not in pattern.groupindex:
                raise ValueError(f"folder: speaker pattern {self.speaker!r} has no group named "
                                 "'speaker' (write (?P<speaker>...))")  # fmt: skip
        files = sorted(path for path in root.rglob("*")
                       if path.suffix.lower() in EXTENSIONS and path.is_file()
                       and not _hidden(path.relative_to(root)))  # fmt: skip
        rows = [self._row(root, path, pattern) for path in files]
        if not rows:
            raise FileNotFoundError(f"folder: no audio files ({', '.join(EXTENSIONS)}) in class "
                                    f"folders under {str(root)!r}")  # fmt: skip
        return build_manifest(rows, corpus=root.name, language=self.language,
                              domain=self.domain)  # fmt: skip

    def _row(self, root: Path, path: Path, pattern: re.Pattern | None) -> dict[str, str]:
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            raise ValueError(f"folder: {str(path)!r} lies directly under the root: put each "
                             "clip in the folder of its class")  # fmt: skip
        if self.speaker == "folder":
            if len(parts) < 3:
                raise ValueError(f"folder: {str(path)!r} has no speaker folder "
                                 "(<class>/<speaker>/<clip>, as speaker: folder says)")  # fmt: skip
            speaker = parts[1]
        elif pattern is not None:
            match = pattern.search(path.name)
            if match is None or not match["speaker"]:
                raise ValueError(f"folder: the file name {path.name!r} ({str(path)!r}) does not "
                                 f"match the speaker pattern {pattern.pattern!r}")  # fmt: skip
            speaker = match["speaker"]
        else:  # unknown: the clip is its own group
            speaker = "file:" + str(Path(*parts).with_suffix(""))
        return {
            "file": str(path),
            "label": parts[0],
            "emotion": harmonise(parts[0]),
            "speaker": speaker,
        }


def _hidden(relative: Path) -> bool:
    """A dot file or a file in a dot folder (``._x.wav`` resource forks, ``.git``)."""
    return any(part.startswith(".") for part in relative.parts)
