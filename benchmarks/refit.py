"""The servable refit model beside the fold ensemble (issue 26): EmoDB runs (eGeMAPS + SVM,
whisper-base layer 2 + SVM) predict SAVEE, an unseen corpus, with the refit head and with
the fold heads; agreement of the two and cross-corpus UAR on the classes both corpora share.

Usage (from the repository root; writes benchmarks/results/refit.json as it goes)::

    python benchmarks/refit.py [--skip whisper]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from emodb_to_savee import SHARED, emodb_run, savee_table

from emotransfer.evaluation.metrics import uar
from emotransfer.inference import Predictor

OUT = Path(__file__).resolve().parent / "results" / "refit.json"
SYSTEMS = {
    "egemaps_svm": ["features.upstream=egemaps", "head.name=svm"],
    "whisper_layer2_svm": [
        "features.upstream=hf",
        f"features.params={{model: {SHARED / 'models' / 'whisper-base-encoder'}}}",
        "features.layer=2", "head.name=svm",
    ],
    # The probe's weighted sum as a run (emotransfer probe leaves it as probe/weighted_sum).
    "whisper_weighted_sum": [
        "features.upstream=hf",
        f"features.params={{model: {SHARED / 'models' / 'whisper-base-encoder'}}}",
        "features.layer=null", "head.name=layer_sum", "head.grid={weight_decay: [0.01]}",
    ],
}  # fmt: skip


def predict_by_speaker(predictor: Predictor, table: pd.DataFrame) -> list[str]:
    """Labels for every clip, each speaker's clips given together (speaker normalisation)."""
    labels = pd.Series(index=table.index, dtype=object)
    for _, rows in table.groupby("speaker"):
        guesses = predictor.predict_files(rows["file"].tolist())
        labels[rows.index] = [max(p, key=p.get) for p in guesses]
    return labels.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip", nargs="*", default=[], help="systems to leave out")
    parser.add_argument("--runs", default="runs/benchmarks")
    args = parser.parse_args()
    savee = savee_table()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name, overrides in SYSTEMS.items():
        if any(skip in name for skip in args.skip) or name in results:
            continue
        began = time.perf_counter()
        folder = emodb_run(f"refit_{name}", overrides, Path(args.runs))
        metrics = json.loads((folder / "metrics.json").read_text())
        refit, ensemble = Predictor.from_run(folder), Predictor.from_run(folder, folds=True)
        shared = sorted(set(refit.classes) & set(savee["emotion"]))
        clips = savee[savee["emotion"].isin(shared)].reset_index(drop=True)
        by_refit = predict_by_speaker(refit, clips)
        by_folds = predict_by_speaker(ensemble, clips)
        index = {c: i for i, c in enumerate(refit.classes)}
        truth = clips["emotion"].map(index).to_numpy()
        results[name] = {
            "emodb_loso_uar": metrics["summary"]["uar"]["value"],
            "refit_params": metrics["refit"]["best_params"],
            "savee_clips": len(clips), "shared_classes": shared,
            "agreement": float(np.mean(np.array(by_refit) == np.array(by_folds))),
            "savee_uar_refit": uar(truth, np.array([index[g] for g in by_refit]), len(index)),
            "savee_uar_folds": uar(truth, np.array([index[g] for g in by_folds]), len(index)),
            "seconds": round(time.perf_counter() - began, 1),
        }  # fmt: skip
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(name, results[name], flush=True)


if __name__ == "__main__":
    main()
