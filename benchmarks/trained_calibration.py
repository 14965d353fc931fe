"""Temperature scaling of trained runs (issue 26): each fold model calibrated on the other
folds' held-out logits, measured on the out-of-fold predictions.

Takes finished trained run folders (by default the multi-scale CNN on EmoDB LOSO of
benchmarks/architectures.py and the whisper-base LoRA run of benchmarks/trained_refit.py),
copies each to a new folder and runs its own config there twice, with
``finetune.calibration: none`` and ``temperature``: both reuse the saved folds (calibration does
not change a fold result), so only the probabilities differ. Folds saved before this change
kept probabilities, not logits: their log is the logits up to a constant, which the softmax
ignores (exact unless a probability was rounded to 0). The refit model is not retrained
(``finetune.refit: false`` for these runs).

Usage (from the repository root; writes benchmarks/results/trained_calibration.json)::

    python benchmarks/trained_calibration.py [RUN_FOLDER ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from emotransfer.config import load_config
from emotransfer.experiment import run

OUT = Path(__file__).resolve().parent / "results" / "trained_calibration.json"
RUNS = ["runs/benchmarks/arch_logmel_mscnn_stats", "runs/benchmarks_issue26b/ft_lora_refit"]
KEPT = ("config.yaml", "inputs.json", "model.json", "folds", "models")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", default=RUNS)
    parser.add_argument("--into", default="runs/benchmarks_calibration")
    args = parser.parse_args()
    record = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for source in map(Path, args.runs):
        began = time.perf_counter()
        folder = Path(args.into) / source.name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name in KEPT:
            path = source / name
            (shutil.copytree if path.is_dir() else shutil.copy2)(path, folder / name)
        entry: dict = {"source": str(source)}
        for method in ("none", "temperature"):
            config = load_config(source / "config.yaml", overrides=[
                f"finetune.calibration={method}", "finetune.refit=false",
                f"output_dir={folder.parent}",
            ])  # fmt: skip
            result = run(config, run_dir=folder, progress=False, resume=True)
            entry[method] = result.metrics["calibration"]
            entry["uar_" + method] = result.metrics["summary"]["uar"]["value"]
        entry["seconds"] = round(time.perf_counter() - began, 1)
        record[source.name] = entry
        OUT.write_text(json.dumps(record, indent=1) + "\n")
        print(source.name, json.dumps(entry, indent=1))


if __name__ == "__main__":
    main()
