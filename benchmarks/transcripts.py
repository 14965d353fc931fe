"""ASR transcripts for a text input (issue 15, item 1): how good are the transcripts that
`data.asr` (faster-whisper, the full Whisper base assembled offline by
`../shared/models/whisper-base-ct2/get.sh`) makes of the emotional speech here, and is the
language found?

- TAVA: English, 16 affect words x 15 speakers, `text` = the affect word: how often the
  transcript holds that word (it does not: the clips say short neutral carrier sentences,
  "My spoon is on the table.", with the word's expression; the column is the label, not the
  transcript), the distinct sentences heard, language `en`;
- TAVA-TEGG: the same stimuli with the words removed: how often ASR hears words anyway;
- EmoDB: ten German sentences (`text_id`), acted in seven emotions: word error rate against
  the sentences as the EmoDB documentation gives them, language `de` (detected per clip).

Each corpus through the library path a run takes (`emotransfer.prepare.add_transcripts`,
cached by audio and model); seconds and real-time factor of the transcription.

Usage (from the repository root; writes benchmarks/results/transcripts.json)::

    bash ../shared/models/whisper-base-ct2/get.sh benchmarks/work/models/whisper-base-ct2
    python benchmarks/transcripts.py [--model benchmarks/work/models/whisper-base-ct2] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from emotransfer.config import load_config
from emotransfer.data.load import load_corpora
from emotransfer.prepare import add_transcripts

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "transcripts.json"
EMODB = {
    "a01": "der lappen liegt auf dem eisschrank",
    "a02": "das will sie am mittwoch abgeben",
    "a04": "heute abend könnte ich es ihm sagen",
    "a05": "das schwarze stück papier befindet sich da oben neben dem holzstück",
    "a07": "in sieben stunden wird es soweit sein",
    "b01": "was sind denn das für tüten die da unter dem tisch stehen",
    "b02": "sie haben es gerade hochgetragen und jetzt gehen sie wieder runter",
    "b03": "an den wochenenden bin ich jetzt immer nach hause gefahren und habe agnes besucht",
    "b09": "ich will das eben wegbringen und dann mit karl was trinken gehen",
    "b10": "die wird auf dem platz sein wo wir sie immer hinlegen",
}


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", str(text).lower()).split()


def edits(reference: list[str], said: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(said) + 1))
    for i, word in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, heard in enumerate(said, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != heard))
    return row[-1]


def transcribed(corpus: str, model: str, cache: Path, language: str | None,
                limit: int | None = None) -> tuple:  # fmt: skip
    config = load_config(None, overrides=[
        f"cache_dir={cache}", f"data.corpora=[{{name: csv, root: {SHARED / 'data' / corpus}}}]",
        f"data.asr={{model: {model}, language: {language or 'null'}, replace: true}}",
        "inputs={audio: {upstream: egemaps}, text: {upstream: hf_text, params: {model: x}}}",
        "finetune={strategy: frozen}",
    ])  # fmt: skip
    table, _ = load_corpora([c.model_dump() for c in config.data.corpora], on_missing="skip")
    if limit is not None and len(table) > limit:  # every k-th clip: all speakers and sentences
        table = table.iloc[:: -(-len(table) // limit)].reset_index(drop=True)
    began = time.perf_counter()
    given = table["text"].copy() if "text" in table else None
    table = add_transcripts(config, table)
    seconds = time.perf_counter() - began
    audio = float(table["duration_s"].astype(float).sum()) if "duration_s" in table else None
    return table, given, seconds, audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(HERE / "work" / "models" / "whisper-base-ct2"))
    parser.add_argument("--cache", default=str(HERE / "work" / "transcripts" / "cache"))
    parser.add_argument("--limit", type=int, default=None, help="at most this many EmoDB clips")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for corpus in ("tava", "tava_tegg", "emodb"):
        limit = args.limit if corpus == "emodb" else None  # TAVA's 240 clips in full
        table, given, seconds, audio = transcribed(corpus, args.model, Path(args.cache), None,
                                                   limit)  # fmt: skip
        heard = [words(t) for t in table["text"]]
        record = {
            "clips": len(table), "seconds": round(seconds, 1),
            "audio_seconds": None if audio is None else round(audio, 1),
            "language": table["language"].value_counts().to_dict(),
            "mean_language_probability": round(float(table["language_probability"].mean()), 3),
            "empty_transcripts": int(sum(not h for h in heard)),
            "examples": table["text"].head(8).tolist(),
        }  # fmt: skip
        if audio:
            record["real_time_factor"] = round(audio / max(seconds, 1e-9), 1)
        if corpus in results and results[corpus].get("clips") == len(table):
            # a rerun reads the cache: the timing of the run that made the transcripts stays
            for key in ("seconds", "real_time_factor"):
                record[key] = results[corpus][key]
        if corpus == "tava":
            right = [words(g) == h for g, h in zip(given, heard)]
            within = [bool(words(g)) and words(g)[0] in h for g, h in zip(given, heard)]
            record["word_accuracy"] = round(float(np.mean(right)), 4)
            record["word_found_in_transcript"] = round(float(np.mean(within)), 4)
            sentences = pd.Series([" ".join(h) for h in heard]).value_counts()
            record["distinct_transcripts"] = int(len(sentences))
            record["most_common_transcripts"] = sentences.head(8).to_dict()
        if corpus == "emodb":
            references = [words(EMODB[t]) for t in table["text_id"]]
            errors = sum(edits(r, h) for r, h in zip(references, heard))
            record["wer"] = round(errors / sum(len(r) for r in references), 4)
            exact = [r == h for r, h in zip(references, heard)]
            record["sentences_exact"] = round(float(np.mean(exact)), 4)
        results[corpus] = record
        OUT.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        print(corpus, json.dumps(record, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
