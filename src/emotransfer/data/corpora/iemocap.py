"""Interactive Emotional Dyadic Motion Capture database (IEMOCAP), English dyadic speech.

The usual 4-class benchmark keeps anger, happiness, neutral and sadness and merges
excitement into happiness; use :data:`FOUR_CLASS_SPEC` for it. The adapter itself keeps
``excitement`` as its own label.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emotransfer.data.corpora._common import build_manifest, existing_root
from emotransfer.data.labels import FOUR_CLASS, LabelSpec, map_code

FOUR_CLASS_SPEC = LabelSpec(classes=list(FOUR_CLASS), merge={"excitement": "happiness"})
LINE = re.compile(r"^\[\S+ - \S+\]\s+(\S+)\s+(\S+)\s+\[([\d.]+), ([\d.]+), ([\d.]+)\]")
UTTERANCE = re.compile(
    r"^Ses(?P<session>\d{2})[FM]_(?P<method>impro|script)\w*_(?P<gender>[FM])\d{3}$"
)


def parse_line(line: str, *, source: str) -> dict[str, object]:
    """Read one utterance line of an ``EmoEvaluation/*.txt`` file.

    Example:
        >>> line = "[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t[2.5000, 2.0000, 3.0000]"
        >>> info = parse_line(line, source="Ses01F_impro01.txt")
        >>> info["speaker"], info["gender"], info["method"], info["emotion"], info["arousal"]
        ('Ses01F', 'f', 'impro', 'neutral', 2.0)
    """
    match = LINE.match(line)
    if match is None:
        raise ValueError(f"iemocap: malformed evaluation line in {source!r}: {line!r}")
    utterance, code, valence, arousal, dominance = match.groups()
    parts = UTTERANCE.match(utterance)
    if parts is None:
        raise ValueError(f"iemocap: malformed utterance id {utterance!r} in {source!r}")
    session = int(parts["session"])
    return {"utterance": utterance, "dialog": utterance.rsplit("_", 1)[0], "session": session,
            "speaker": f"Ses{session:02d}{parts['gender']}", "gender": parts["gender"].lower(),
            "method": parts["method"], "emotion": map_code("iemocap", code, source=source),
            "valence": float(valence), "arousal": float(arousal),
            "dominance": float(dominance)}  # fmt: skip


def read_evaluation(path: Path) -> list[dict[str, object]]:
    """All utterances of one evaluation file, with their sentence wav path."""
    session_dir = path.parents[2]
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("["):
            info = parse_line(line, source=str(path))
            wav = session_dir / "sentences" / "wav" / info["dialog"] / f"{info['utterance']}.wav"
            rows.append({"file": str(wav), **info})
    return rows


class IEMOCAP:
    """IEMOCAP (Busso et al. 2008, USC SAIL, on request): 5 sessions, 10 actors, English.

    Expects the full release layout: ``<root>/Session1/sentences/wav/Ses01F_impro01/
    Ses01F_impro01_F000.wav`` with labels in ``<root>/Session1/dialog/EmoEvaluation/
    Ses01F_impro01.txt``, lines ``[start - end]<TAB>utterance<TAB>emotion<TAB>[V, A, D]``.
    The speaker is the session plus the letter of the utterance's last token (``_F000``:
    female, ``Ses01F``). Columns valence/arousal/dominance keep the 1-5 evaluator means.
    Extras: ``session`` (1-5), ``method`` (impro/script), ``dialog``, ``utterance``.
    Emotion ``excitement`` is kept; the 4-class set is ``FOUR_CLASS_SPEC`` =
    ``LabelSpec(classes=[anger, happiness, neutral, sadness], merge={'excitement': 'happiness'})``.

    Args:
        root: folder holding ``Session1`` ... ``Session5``.

    Raises:
        FileNotFoundError: ``root``, its sessions or a labelled wav file are missing.
        ValueError: a malformed label line, utterance id or unknown emotion code.

    Example:
        >>> IEMOCAP(root="/data/IEMOCAP_full_release").root
        '/data/IEMOCAP_full_release'
    """

    def __init__(self, *, root: str | Path) -> None:
        self.root = root

    def load(self) -> pd.DataFrame:
        """Return the manifest of every utterance that has a label line."""
        root = existing_root(self.root, corpus="iemocap")
        files = sorted(root.glob("Session*/dialog/EmoEvaluation/Ses*.txt"))
        if not files:
            raise FileNotFoundError(
                f"iemocap: no Session*/dialog/EmoEvaluation/Ses*.txt files under {str(root)!r}"
            )
        rows = [row for path in files for row in read_evaluation(path)]
        table = build_manifest(rows, corpus="iemocap", language="en")
        return table
