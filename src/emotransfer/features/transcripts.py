"""Transcripts by ASR for a text input: faster-whisper (CTranslate2 Whisper) on each clip,
cached by the clip's audio and the transcriber.

A :class:`Transcriber` holds a model (a CTranslate2 Whisper folder, e.g. the one
``../shared/models/whisper-base-ct2/get.sh`` assembles, or a faster-whisper hub id such as
``base``, downloaded on first use) and its decoding settings; it loads the model on first
use. :func:`transcribe_rows` fills a manifest's text column where it is blank (or every row
with ``replace``) and adds the detected ``language``, its probability and where each text came
from (``text_source``: ``given`` or ``asr``). A transcript is cached as JSON under
``cache_dir/transcripts/<transcriber digest>/`` keyed by the audio bytes and segment bounds,
written atomically; an entry that does not read back as a transcript of that key is made
again. Nothing read from the cache runs code.

Example:
    >>> Transcriber(model="base", language="en").settings()["language"]
    'en'
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emotransfer.features.extract import file_digest
from emotransfer.io import write_json

log = logging.getLogger(__name__)
SOURCE = "text_source"


@dataclass(frozen=True)
class Transcript:
    """What ASR heard in one clip."""

    text: str
    language: str
    language_probability: float


class Transcriber:
    """faster-whisper transcription with fixed settings.

    Args:
        model: a CTranslate2 Whisper folder or a faster-whisper hub id.
        language: a language code, or ``None`` to detect it per clip (an English-only model
            reports ``en``).
        beam_size: beam search width.
        compute_type: CTranslate2 compute type (``int8``, ``float32`` ...).
        threads: CPU threads.
    """

    def __init__(
        self, *, model: str, language: str | None = None, beam_size: int = 5,
        compute_type: str = "int8", threads: int = 2,
    ) -> None:  # fmt: skip
        self.model = model
        self.language = language
        self.beam_size = beam_size
        self.compute_type = compute_type
        self.threads = threads
        self._whisper: Any = None

    def settings(self) -> dict[str, Any]:
        return {"model": self.model, "language": self.language, "beam_size": self.beam_size,
                "compute_type": self.compute_type}  # fmt: skip

    def identity(self) -> str:
        """A digest of the model (its files' bytes for a folder, else the hub id) and the
        decoding settings: what a cached transcript depends on."""
        folder = Path(self.model)
        model: Any = self.model
        if folder.is_dir():
            model = {p.name: file_digest(str(p)) for p in sorted(folder.iterdir())
                     if p.is_file() and p.suffix in (".bin", ".json", ".txt")}  # fmt: skip
        text = json.dumps({**self.settings(), "model": model}, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()

    def transcribe(self, wave: np.ndarray) -> Transcript:
        """The transcript of ``wave`` (mono float32 at 16 kHz)."""
        segments, info = self._load().transcribe(
            np.asarray(wave, dtype=np.float32), language=self.language,
            beam_size=self.beam_size, without_timestamps=True, condition_on_previous_text=False,
        )  # fmt: skip
        text = "".join(segment.text for segment in segments).strip()
        return Transcript(text, str(info.language), round(float(info.language_probability), 4))

    def _load(self) -> Any:
        if self._whisper is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as error:
                raise ImportError("ASR transcripts need faster-whisper: pip install "
                                  "'emotransfer[asr]'") from error  # fmt: skip
            try:
                self._whisper = WhisperModel(self.model, device="cpu",
                                             compute_type=self.compute_type,
                                             cpu_threads=self.threads)  # fmt: skip
            except Exception as error:  # noqa: BLE001 (the library raises many kinds)
                raise ValueError(f"data.asr.model {self.model!r}: not a CTranslate2 Whisper "
                                 f"folder or hub id that loads ({error})") from None  # fmt: skip
        return self._whisper


def transcribe_rows(
    table: pd.DataFrame, transcriber: Transcriber, *, load: Any, cache_dir: str | Path,
    column: str = "text", replace: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """``table`` with ``column`` filled by ASR where blank (every row with ``replace``), and
    the columns ``language``, ``language_probability`` (blank for given text) and
    ``text_source``.

    Args:
        load: ``load(row) -> wave`` (mono float32 at 16 kHz) for a manifest row, or ``None``
            for a clip that cannot be used (its text stays blank, ``text_source``
            ``unreadable``; the audio stage names and skips it).
        cache_dir: the run's cache root; transcripts live under ``transcripts/``.
    """
    table = table.copy()
    given = table[column] if column in table.columns else pd.Series("", index=table.index)
    given = given.fillna("").astype(str)
    wanted = [replace or not text.strip() for text in given]
    folder = Path(cache_dir) / "transcripts" / transcriber.identity()
    found: list[tuple[str, str, float, str]] = []  # text, language, probability, source
    digests: dict[str, str] = {}
    made = 0
    for (_, row), text, asr in zip(table.iterrows(), given, wanted):
        if not asr:
            found.append((text, "", np.nan, "given"))
            continue
        path = str(row["file"])
        digests.setdefault(path, file_digest(path))
        key = f"{digests[path]}-{_bound(row.get('start'))}-{_bound(row.get('end'))}"
        entry = folder / f"{key}.json"
        transcript = _cached(entry, key)
        if transcript is None:
            wave = load(row)
            if wave is None:
                found.append(("", "", np.nan, "unreadable"))
                continue
            transcript = transcriber.transcribe(wave)
            write_json(entry, {"key": key, **asdict(transcript)})
            made += 1
        found.append((transcript.text, transcript.language, transcript.language_probability,
                      "asr"))  # fmt: skip
    if made:
        log.info("transcribed %d clip(s) with %s", made, transcriber.model)
    names = (column, "language", "language_probability", SOURCE)
    for number, name in enumerate(names):
        table[name] = [item[number] for item in found]
    return table


def transcript_table(table: pd.DataFrame, column: str = "text") -> pd.DataFrame:
    """What a run folder's ``transcripts.csv`` and ``emotransfer transcribe`` show of a table
    :func:`transcribe_rows` made: the clip (file, segment, speaker), its text, language and
    where the text came from."""
    clip = [c for c in ("file", "start", "end", "speaker") if c in table.columns]
    return table[[*clip, column, "language", "language_probability", SOURCE]]


def _cached(entry: Path, key: str) -> Transcript | None:
    """The cached transcript at ``entry`` if it is one of ``key``, else ``None``."""
    if not entry.is_file():
        return None
    try:
        data = json.loads(entry.read_text())
        if data.get("key") != key:
            raise ValueError("another clip's entry")
        transcript = Transcript(str(data["text"]), str(data["language"]),
                                float(data["language_probability"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("%s: unusable transcript cache entry (%s): made again", entry, error)
        return None
    return transcript


def _bound(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:g}"
