"""``emotransfer transcribe CONFIG``: ASR transcripts of a config's manifest (``data.asr``),
cached as a run makes them, as CSV on standard output or in ``--out``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emotransfer.config import ExperimentConfig


def transcribe(args: argparse.Namespace, config: ExperimentConfig) -> int:
    """Transcribe every row of ``config``'s corpora (blank texts, or all with
    ``data.asr.replace``); one CSV row per manifest row with its language and source."""
    from emotransfer.data.load import load_corpora
    from emotransfer.features.transcripts import transcript_table
    from emotransfer.prepare import add_transcripts

    if config.data.asr is None:
        raise ValueError("transcribe: the config has no data.asr section; give one, e.g. "
                         "-o 'data.asr={model: base}' (a CTranslate2 Whisper folder or a "
                         "faster-whisper hub id)")  # fmt: skip
    corpora = [c.model_dump() for c in config.data.corpora]
    table, skipped = load_corpora(corpora, on_missing="skip", plugins=config.plugins,
                                  allow_duplicates=config.data.allow_duplicates,
                                  column=config.data.labels.column)  # fmt: skip
    for entry in skipped:
        print(f"emotransfer: skipped {entry['file']}: {entry['problem']}", file=sys.stderr)
    shown = transcript_table(add_transcripts(config, table), config.column_of("text"))
    if args.out:
        from emotransfer.io import write_text

        write_text(args.out, shown.to_csv(index=False))
    else:
        shown.to_csv(sys.stdout, index=False)
    return 0
