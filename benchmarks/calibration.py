"""Calibrated probabilities (issue 26): EmoDB LOSO runs with and without temperature scaling on
inner folds, their out-of-fold negative log-likelihood and expected calibration error, and the
refit model's on SAVEE clips of the classes both corpora share (an unseen corpus).

An SVM without calibration has no probabilities: its "probability" is one vote, scored here as
the one-hot vector of its prediction (what runs before calibration served).

Usage (from the repository root; writes benchmarks/results/calibration.json as it goes)::

    python benchmarks/calibration.py [--skip whisper]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from emodb_to_savee import SHARED, emodb_run, savee_table

from emotransfer.inference import Predictor
from emotransfer.models.calibration import calibration_error, negative_log_likelihood

OUT = Path(__file__).resolve().parent / "results" / "calibration.json"
WHISPER = ["features.upstream=hf",
           f"features.params={{model: {SHARED / 'models' / 'whisper-base-encoder'}}}",
           "features.layer=2"]  # fmt: skip
SYSTEMS = {
    "egemaps_svm": ["features.upstream=egemaps", "head.name=svm"],
    "egemaps_logreg": ["features.upstream=egemaps", "head.name=logreg"],
    "whisper_layer2_svm": [*WHISPER, "head.name=svm"],
}


def out_of_fold(folder: Path, classes: list[str]) -> dict:
    """NLL and ECE of the run's predictions.csv (one-hot predictions where it has none)."""
    table = pd.read_csv(folder / "predictions.csv")
    truth = table["true"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    columns = [f"prob_{c}" for c in classes]
    if all(c in table for c in columns):
        probabilities = table[columns].to_numpy()
    else:
        probabilities = np.eye(len(classes))[table["predicted"].map(
            {c: i for i, c in enumerate(classes)}).to_numpy()]  # fmt: skip
    return {"nll": negative_log_likelihood(probabilities, truth),
            "ece": calibration_error(probabilities, truth)}  # fmt: skip


def unseen(predictor: Predictor, savee: pd.DataFrame) -> dict:
    """The refit model on SAVEE's clips of the shared classes, probabilities renormalised over
    those classes, each speaker's clips given together (speaker normalisation)."""
    shared = [c for c in predictor.classes if c in set(savee["emotion"])]
    clips = savee[savee["emotion"].isin(shared)].reset_index(drop=True)
    columns = [predictor.classes.index(c) for c in shared]
    probabilities = np.zeros((len(clips), len(shared)))
    for _, rows in clips.groupby("speaker"):
        outputs = predictor.predict_files(rows["file"].tolist())
        probabilities[rows.index] = [[p[predictor.classes[i]] for i in columns] for p in outputs]
    probabilities /= np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    truth = clips["emotion"].map({c: i for i, c in enumerate(shared)}).to_numpy()
    return {"clips": len(clips), "classes": shared,
            "accuracy": float((probabilities.argmax(axis=1) == truth).mean()),
            "nll": negative_log_likelihood(probabilities, truth),
            "ece": calibration_error(probabilities, truth)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip", nargs="*", default=[], help="systems to leave out")
    parser.add_argument("--runs", default="runs/benchmarks")
    args = parser.parse_args()
    savee = savee_table()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name, overrides in SYSTEMS.items():
        for method in ("none", "temperature"):
            key = f"{name}/{method}"
            if any(skip in name for skip in args.skip) or key in results:
                continue
            began = time.perf_counter()
            folder = emodb_run(
                f"calibration_{name}_{method}",
                [*overrides, f"head.calibration={method}"],
                Path(args.runs),
            )
            metrics = json.loads((folder / "metrics.json").read_text())
            results[key] = {
                "emodb_loso_uar": metrics["summary"]["uar"]["value"],
                "emodb_out_of_fold": out_of_fold(folder, metrics["classes"]),
                "fold_temperatures": [f.get("temperature") for f in metrics["folds"]],
                "refit_temperature": metrics["refit"].get("temperature"),
                "savee_refit": unseen(Predictor.from_run(folder), savee),
                "seconds": round(time.perf_counter() - began, 1),
            }
            OUT.write_text(json.dumps(results, indent=2) + "\n")
            print(key, json.dumps(results[key]), flush=True)


if __name__ == "__main__":
    main()
