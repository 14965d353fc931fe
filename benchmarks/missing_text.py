"""Clips without a transcript (issue 15, missing modalities): TAVA's quadrant classes and
valence / arousal / dominance, leave-one-speaker-out, when half of the clips (chosen at
random, seed 0, in training and test alike) have no text. Systems, all trained the same way
(eGeMAPS and MiniLM frozen, states cached once, concat fusion, dimensional head, 40 epochs,
the settings of benchmarks/multimodal.py's trained fusion):

- audio alone (the anchor for clips without text);
- audio + text, `model.params.missing_inputs: true` (a learned stand-in for a missing text);
- audio + text, `model.params.modality_dropout: 0.3` (also drops given text while training).

Scores per group of clips (with text, without text), paired on the same clips.

Usage (from the repository root; writes benchmarks/results/missing_text.json as it goes)::

    python benchmarks/missing_text.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from multimodal import DIMENSIONS, SHARED, TEXT

from emotransfer.config import load_config
from emotransfer.data.corpora.csv import CsvCorpus, write_corpus
from emotransfer.evaluation.metrics import ccc, uar
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "missing_text.json"
TRAINED = (
    "finetune={strategy: frozen, cache_states: true, epochs: 40, batch_size: 16, "
    "learning_rate: 0.001, validation_folds: 0, normalization: speaker, refit: false}"
)
SYSTEMS = {
    "audio": ["inputs={audio: {upstream: egemaps}}"],
    "missing_inputs": [f"inputs={{audio: {{upstream: egemaps}}, text: {TEXT}}}",
                       "model.fusion=concat", "model.params={missing_inputs: true}"],
    "modality_dropout": [f"inputs={{audio: {{upstream: egemaps}}, text: {TEXT}}}",
                         "model.fusion=concat", "model.params={modality_dropout: 0.3}"],
}  # fmt: skip


def half_transcribed(folder: Path) -> tuple[str, pd.DataFrame]:
    """TAVA with quadrant classes and the text of a random half of the clips removed."""
    table = CsvCorpus(root=str(SHARED / "data" / "tava")).load()
    quadrant = np.select(
        [(table.valence > 0) & (table.arousal > 0), (table.valence <= 0) & (table.arousal > 0),
         (table.valence <= 0) & (table.arousal <= 0)], ["Q1", "Q2", "Q3"], "Q4")  # fmt: skip
    without = np.random.default_rng(0).permutation(len(table)) < len(table) // 2
    table = table.assign(quadrant=quadrant, text=np.where(without, "", table["text"]))
    entry = write_corpus(table, folder)
    return f"[{{name: csv, root: {entry['root']}}}]", table.assign(without_text=without)


def scores(predictions: pd.DataFrame, truth: pd.DataFrame) -> dict[str, dict]:
    """UAR and CCC per group of clips (all, with text, without text)."""
    merged = predictions.merge(truth[["file", "without_text", *DIMENSIONS]], on="file")
    merged["file"] = merged["file"].astype(str)
    result = {}
    for group, rows in (("all", merged), ("with_text", merged[~merged.without_text]),
                        ("without_text", merged[merged.without_text])):  # fmt: skip
        classes = sorted(merged["true"].unique())
        index = {c: i for i, c in enumerate(classes)}
        result[group] = {
            "n": len(rows),
            "uar": uar(rows["true"].map(index).to_numpy(), rows["predicted"].map(index).to_numpy(),
                       len(classes)),
            **{f"ccc_{d}": ccc(rows[d].to_numpy(), rows[f"pred_{d}"].to_numpy())
               for d in DIMENSIONS},
        }  # fmt: skip
    return result


def paired_uar(first: Path, second: Path, truth: pd.DataFrame, *, rounds: int = 1000,
               seed: int = 0) -> dict[str, list[float]]:  # fmt: skip
    """Per group of clips, UAR of ``second`` minus ``first`` on the same clips with a 95 %
    bootstrap interval over speakers."""
    a, b = (pd.read_csv(folder / "predictions.csv", dtype={"speaker": str}) for folder in
            (first, second))  # fmt: skip
    merged = a.merge(b, on="file", suffixes=("_a", "_b")).merge(
        truth[["file", "without_text"]], on="file")  # fmt: skip
    classes = {c: i for i, c in enumerate(sorted(merged["true_a"].unique()))}
    result = {}
    for group, rows in (("all", merged), ("with_text", merged[~merged.without_text]),
                        ("without_text", merged[merged.without_text])):  # fmt: skip
        y = rows["true_a"].map(classes).to_numpy()
        pa, pb = (rows[f"predicted_{k}"].map(classes).to_numpy() for k in "ab")
        speakers = rows["speaker_a"].to_numpy()
        names = np.unique(speakers)
        where = {n: np.flatnonzero(speakers == n) for n in names}
        rng, samples = np.random.default_rng(seed), []
        for _ in range(rounds):
            pick = np.concatenate([where[n] for n in rng.choice(names, len(names))])
            samples.append(uar(y[pick], pb[pick], len(classes)) -
                           uar(y[pick], pa[pick], len(classes)))  # fmt: skip
        low, high = np.quantile(samples, [0.025, 0.975])
        difference = uar(y, pb, len(classes)) - uar(y, pa, len(classes))
        result[group] = [round(float(v), 4) for v in (difference, low, high)]
    return result


def main() -> None:
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    corpora, truth = half_transcribed(HERE / "work" / "missing_text" / "tava_half")
    for name, overrides in SYSTEMS.items():
        if name not in results:
            config = load_config(None, overrides=[
                f"name=missing_{name}", "output_dir=runs/benchmarks",
                f"cache_dir={HERE / 'work' / 'multimodal' / 'cache'}", f"data.corpora={corpora}",
                "data.labels.column=quadrant", f"evaluation.dimensions={DIMENSIONS}",
                "split.kind=loso", TRAINED, *overrides,
            ])  # fmt: skip
            began = time.perf_counter()
            result = run(config, progress=False)
            results[name] = {"seconds": round(time.perf_counter() - began, 1),
                             "run_dir": str(result.run_dir)}  # fmt: skip
        predictions = pd.read_csv(Path(results[name]["run_dir"]) / "predictions.csv")
        results[name]["scores"] = scores(predictions, truth.assign(file=truth["file"].astype(str)))
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(name, json.dumps(results[name]), flush=True)
    truth = truth.assign(file=truth["file"].astype(str))
    for name in ("missing_inputs", "modality_dropout"):
        key = f"paired_{name}_vs_audio"
        results[key] = paired_uar(Path(results["audio"]["run_dir"]),
                                  Path(results[name]["run_dir"]), truth)  # fmt: skip
        print(key, json.dumps(results[key]), flush=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
