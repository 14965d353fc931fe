"""A trained run's refit model beside its fold ensemble (issue 26): the fine-tuning run of the
model-contract table (whisper-base + LoRA, LP-FT, speaker batches, augmentation, validation,
early stopping; EmoDB folds speaker=03 and speaker=10, seed 7) with `finetune.refit: true`.

Checks that the folds are unchanged (predictions.csv against a reference run folder made
before the refit existed, byte for byte) and predicts SAVEE (an unseen corpus; the six
classes both corpora share, speaker by speaker) with the refit model and with the folds.

Usage (from the repository root; writes benchmarks/results/trained_refit.json)::

    python benchmarks/trained_refit.py [--reference RUN_FOLDER]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from emodb_to_savee import SHARED, savee_table

from emotransfer.config import load_config
from emotransfer.evaluation.metrics import uar
from emotransfer.experiment import run
from emotransfer.inference import Predictor

OUT = Path(__file__).resolve().parent / "results" / "trained_refit.json"
OVERRIDES = [
    "name=ft_lora_refit", f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]",
    "features.upstream=hf",
    f"features.params={{model: {SHARED / 'models' / 'whisper-base-encoder'}, "
    "whisper_input: real_length}",
    "finetune={strategy: lora, params: {rank: 8, alpha: 16}, learning_rate: 0.001}",
    "finetune.epochs=2", "finetune.mixed_precision=bf16", "split.kind=loso",
    "split.only_folds=[speaker=03, speaker=10]", "finetune.normalization=speaker",
    "finetune.validation_folds=2", "finetune.head_epochs=5",
    "finetune.augment=[{name: noise, snr_db: [10, 30]}]", "seed=7", "finetune.refit=true",
]  # fmt: skip


def savee_labels(predictor: Predictor, clips: pd.DataFrame, shared: list[str]) -> np.ndarray:
    """Per clip, the most probable of the shared classes (each speaker's clips together)."""
    guesses = np.zeros(len(clips), dtype=np.int64)
    for _, rows in clips.groupby("speaker"):
        outputs = predictor.predict_files(rows["file"].tolist())
        guesses[rows.index] = [int(np.argmax([p[c] for c in shared])) for p in outputs]
    return guesses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", help="a run folder of the same config without refit")
    parser.add_argument("--runs", default="runs/benchmarks")
    args = parser.parse_args()
    began = time.perf_counter()
    config = load_config(None, overrides=[f"output_dir={args.runs}", *OVERRIDES])
    result = run(config, progress=False)
    folder = result.run_dir
    record = {"uar": result.metrics["summary"]["uar"], "refit": result.metrics["refit"],
              "folds": [f["uar"] for f in result.metrics["folds"]],
              "training_s": result.metrics["timing"]["training_s"]}  # fmt: skip
    if args.reference:
        reference = Path(args.reference) / "predictions.csv"
        record["predictions_csv_identical"] = (
            reference.read_bytes() == (folder / "predictions.csv").read_bytes()
        )
    savee = savee_table()
    refit, ensemble = Predictor.from_run(folder), Predictor.from_run(folder, folds=True)
    shared = [c for c in refit.classes if c in set(savee["emotion"])]
    clips = savee[savee["emotion"].isin(shared)].reset_index(drop=True)
    truth = clips["emotion"].map({c: i for i, c in enumerate(shared)}).to_numpy()
    by_refit = savee_labels(refit, clips, shared)
    by_folds = savee_labels(ensemble, clips, shared)
    record["savee"] = {
        "clips": len(clips), "classes": shared,
        "agreement": float(np.mean(by_refit == by_folds)),
        "uar_refit": uar(truth, by_refit, len(shared)),
        "uar_folds": uar(truth, by_folds, len(shared)),
    }  # fmt: skip
    record["seconds"] = round(time.perf_counter() - began, 1)
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
