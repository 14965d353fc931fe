"""Text and audio, alone and fused (issue 15): TAVA's valence / arousal / dominance under
leave-one-speaker-out and under the speaker-and-word-disjoint split, and MELD's text.

TAVA (../shared/data/tava): 15 speakers x 16 English affect words, each clip rated for valence,
arousal and dominance; the manifest's `text` is the affect word the speaker expressed (also the
`emotion` label: a text model of it reads the stimulus). Every system learns the three
dimensions and, as its categorical task, the clip's Russell quadrant from its own ratings
(Q1 V+A+, Q2 V-A+, Q3 V-A-, Q4 V+A-; a `quadrant` column of a derived csv corpus), so the
categorical task stays learnable when the words are held out. Systems:

- eGeMAPS + ridge (audio) and MiniLM (all-MiniLM-L6-v2, last layer, mean over tokens) + ridge
  (text): the frozen-feature path, ridge per dimension (alpha chosen by CCC on inner folds);
- early fusion: eGeMAPS and MiniLM concatenated in the frozen path (each normalised per
  speaker), ridge per dimension;
- multistage fusion (Atmaja & Akagi 2020): a ridge per input and dimension, then a ridge per
  dimension on their out-of-fold predictions of all three dimensions
  (`evaluation.dimension_fusion: multistage`; the quadrant classes as in early fusion);
- trained fusion: eGeMAPS and MiniLM frozen, concatenated, a dimensional head trained with the
  quadrant classes (1 - CCC per dimension + cross-entropy; `evaluation.dimensions` in a
  trained run; states cached once).

Splits: `loso`, and `disjoint` (5 speaker groups x 4 word groups: each fold tests 3 speakers
saying 4 words that no training clip says). Paired intervals: bootstrap over speakers of the
CCC difference, on the same clips.

EmoDB with ASR transcripts (faster-whisper, Whisper base, language detected): eGeMAPS + SVM,
MiniLM of the transcript + logistic regression, and their early fusion, leave-one-speaker-out.

MELD (../shared/data/meld_text, text only): 7 classes, official split (train + dev -> test),
MiniLM frozen + logistic regression; weighted F1 (MELD's usual score), UAR.

Usage (from the repository root; writes benchmarks/results/multimodal.json as it goes)::

    python benchmarks/multimodal.py [--only tava_egemaps_loso ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from emotransfer.config import load_config
from emotransfer.data.corpora.csv import CsvCorpus, write_corpus
from emotransfer.evaluation.metrics import ccc
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
OUT = HERE / "results" / "multimodal.json"
MINILM = SHARED / "models" / "all-MiniLM-L6-v2"
DIMENSIONS = ["valence", "arousal", "dominance"]
TEXT = f"{{upstream: hf_text, params: {{model: {MINILM}}}, layer: -1, pooling: mean}}"
SPLITS = {
    "loso": ["split.kind=loso"],
    "disjoint": ["split.kind=disjoint", "split.folds=5", "split.content_folds=4",
                 "split.content=text"],
}  # fmt: skip
TAVA = {
    "egemaps": ["features.upstream=egemaps", "head.name=svm"],
    "minilm": [f"inputs={{text: {TEXT}}}", "head.name=logreg"],
    "early": [f"inputs={{text: {TEXT}}}", "features.upstream=egemaps", "head.name=svm"],
    "multistage": [f"inputs={{text: {TEXT}}}", "features.upstream=egemaps", "head.name=svm",
                   "evaluation.dimension_fusion=multistage"],
    "fusion": [
        f"inputs={{audio: {{upstream: egemaps}}, text: {TEXT}}}", "model.fusion=concat",
        "finetune={strategy: frozen, cache_states: true, epochs: 40, batch_size: 16, "
        "learning_rate: 0.001, validation_folds: 0, normalization: speaker, refit: false}",
    ],
}  # fmt: skip
ASR = HERE / "work" / "models" / "whisper-base-ct2"  # get.sh assembles it offline
EMODB_ASR = f"data.asr={{model: {ASR}, language: null, replace: true}}"
EMODB_DISJOINT = ["split.kind=disjoint", "split.folds=5", "split.content_folds=5",
                  "split.content=text_id"]  # fmt: skip
WHISPER = SHARED / "models" / "whisper-base-encoder"
WHISPER_PROBE = [
    "features.upstream=hf", f"features.params={{model: {WHISPER}, dtype: bfloat16, "
    "whisper_input: real_length, num_threads: 2}", "features.pooling=mean",
    "features.layer=null", "head.name=layer_sum",
]  # fmt: skip
# EmoDB: every sentence is said in every emotion, so its transcript carries no emotion; fusion
# with the ASR text must not cost the audio more than 0.5 UAR points.
EMODB = {
    "emodb_egemaps_loso": ["features.upstream=egemaps", "head.name=svm"],
    "emodb_asr_minilm_loso": [f"inputs={{text: {TEXT}}}", "head.name=logreg", EMODB_ASR],
    "emodb_asr_early_loso": [f"inputs={{text: {TEXT}}}", "features.upstream=egemaps",
                             "head.name=svm", EMODB_ASR],
    # Audio models under the split that holds the sentences out too (10 sentences, text_id):
    # how much of a LOSO score is the sentence (every sentence is said in every emotion).
    "emodb_egemaps_disjoint": ["features.upstream=egemaps", "head.name=svm", *EMODB_DISJOINT],
    "emodb_whisper_loso": WHISPER_PROBE,
    "emodb_whisper_disjoint": [*WHISPER_PROBE, *EMODB_DISJOINT],
}  # fmt: skip
MELD = {
    "meld_minilm_logreg": [
        f"inputs={{text: {TEXT[:-1]}, normalization: global}}}}", "head.name=logreg",
        "split.kind=predefined", "split.train_values=[train, dev]", "split.test_values=[test]",
        "split.allow_leakage=true", "head.inner_folds=3",
    ],
}  # fmt: skip


def quadrant_corpus(folder: Path) -> str:
    """TAVA with a `quadrant` column from each clip's own valence and arousal, as a csv corpus
    entry (the clips stay where they are)."""
    table = CsvCorpus(root=str(SHARED / "data" / "tava")).load()
    quadrant = np.select(
        [(table.valence > 0) & (table.arousal > 0), (table.valence <= 0) & (table.arousal > 0),
         (table.valence <= 0) & (table.arousal <= 0)], ["Q1", "Q2", "Q3"], "Q4")  # fmt: skip
    entry = write_corpus(table.assign(quadrant=quadrant), folder)
    return f"[{{name: csv, root: {entry['root']}}}]"


def systems(tava: str) -> dict[str, list[str]]:
    """Every system's overrides by name."""
    table = {}
    for split, split_overrides in SPLITS.items():
        for name, overrides in TAVA.items():
            table[f"tava_{name}_{split}"] = [
                f"data.corpora={tava}", "data.labels.column=quadrant",
                f"evaluation.dimensions={DIMENSIONS}", *split_overrides, *overrides,
            ]  # fmt: skip
    emodb = f"[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]"
    for name, overrides in EMODB.items():
        table[name] = [f"data.corpora={emodb}", "split.kind=loso", *overrides]  # or disjoint
    meld = f"[{{name: meld, root: {SHARED / 'data' / 'meld_text'}}}]"
    for name, overrides in MELD.items():
        table[name] = [f"data.corpora={meld}", *overrides]
    return table


def paired_ccc(first: Path, second: Path, truth: pd.DataFrame, *, rounds: int = 1000,
               seed: int = 0) -> dict[str, dict[str, float]]:  # fmt: skip
    """Per dimension, CCC of ``second`` minus ``first`` on the same clips, with a bootstrap
    interval over speakers."""
    a, b = (pd.read_csv(folder / "predictions.csv", dtype={"speaker": str}) for folder in
            (first, second))  # fmt: skip
    merged = a.merge(b, on="file", suffixes=("_a", "_b")).merge(truth, on="file")
    speakers = merged["speaker_a"].to_numpy()
    names = np.unique(speakers)
    rows = {name: np.flatnonzero(speakers == name) for name in names}
    rng = np.random.default_rng(seed)
    result = {}
    for dimension in DIMENSIONS:
        y = merged[dimension].to_numpy()
        pa, pb = merged[f"pred_{dimension}_a"].to_numpy(), merged[f"pred_{dimension}_b"].to_numpy()
        difference = ccc(y, pb) - ccc(y, pa)
        samples = []
        for _ in range(rounds):
            pick = np.concatenate([rows[n] for n in rng.choice(names, len(names))])
            samples.append(ccc(y[pick], pb[pick]) - ccc(y[pick], pa[pick]))
        low, high = np.quantile(samples, [0.025, 0.975])
        result[dimension] = {"difference": round(float(difference), 4),
                             "ci_low": round(float(low), 4),
                             "ci_high": round(float(high), 4)}  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="systems to run")
    parser.add_argument("--runs", default="runs/benchmarks")
    parser.add_argument("--cache", default=str(HERE / "work" / "multimodal" / "cache"))
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    tava = quadrant_corpus(HERE / "work" / "multimodal" / "tava_quadrants")
    for name, overrides in systems(tava).items():
        if (args.only is not None and name not in args.only) or name in results:
            continue
        config = load_config(None, overrides=[
            f"name=mm_{name}", f"output_dir={args.runs}", f"cache_dir={args.cache}",
            *overrides,
        ])  # fmt: skip
        began = time.perf_counter()
        result = run(config, progress=False)
        summary = result.metrics["summary"]
        record = {"seconds": round(time.perf_counter() - began, 1),
                  "run_dir": str(result.run_dir),
                  **{k: summary[k]["value"] for k in ("uar", "wa", "weighted_f1")}}  # fmt: skip
        for dimension, report in result.metrics.get("dimensional", {}).items():
            ccc_value = report["ccc"]
            record[f"ccc_{dimension}"] = [ccc_value["value"], ccc_value["ci_low"],
                                          ccc_value["ci_high"]]  # fmt: skip
        results[name] = record
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(name, json.dumps(record), flush=True)
    truth = CsvCorpus(root=str(SHARED / "data" / "tava")).load()[["file", *DIMENSIONS]]
    for split in SPLITS:
        for fused in ("early", "multistage", "fusion"):
            fusion = results.get(f"tava_{fused}_{split}")
            for single in ("egemaps", "minilm"):
                other = results.get(f"tava_{single}_{split}")
                if fusion and other:
                    key = f"paired_{split}_{fused}_vs_{single}"
                    results[key] = paired_ccc(Path(other["run_dir"]), Path(fusion["run_dir"]),
                                              truth)  # fmt: skip
                    print(key, json.dumps(results[key]), flush=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
