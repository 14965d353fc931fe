"""Fine-tuning whisper-base on EmoDB: frozen weighted sum vs partial vs LoRA vs full.

Each strategy runs as its own process (so its peak memory is its own) through the
`emotransfer finetune` CLI on the same leave-one-speaker-out folds (a subset of held-out
speakers on this 2-core CPU, see --folds), with speaker-grouped validation and early
stopping. Prints UAR with its CI, seconds per epoch and peak resident memory, and the layer
adaptation of the LoRA and full runs. Writes benchmarks/results/finetune.json.

    python benchmarks/finetune.py [--folds speaker=03 speaker=10] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"

STRATEGIES = {
    "frozen": "{strategy: frozen, learning_rate: 0.01}",
    "partial": "{strategy: finetune, params: {freeze_bottom: 3, encoder_lr_scale: 0.05}, "
    "learning_rate: 0.001}",
    "lora": "{strategy: lora, params: {rank: 8, alpha: 16}, learning_rate: 0.001}",
    "full": "{strategy: full, params: {encoder_lr_scale: 0.05}, learning_rate: 0.001}",
}


def run(name: str, strategy: str, args: argparse.Namespace) -> dict:
    folds = "[" + ", ".join(args.folds) + "]"
    command = [
        sys.executable, "-m", "emotransfer.cli", "finetune", "/dev/null", "--quiet",
        "-o", f"name={name}", "-o", f"output_dir={args.work}",
        "-o", f"data.corpora=[{{name: csv, root: {args.data}}}]",
        "-o", "features.upstream=hf",
        "-o", f"features.params={{model: {args.model}, whisper_input: real_length}}",
        "-o", f"finetune={strategy}", "-o", f"finetune.epochs={args.epochs}",
        "-o", "finetune.batch_size=8", "-o", f"finetune.patience={args.patience}",
        "-o", f"finetune.mixed_precision={args.precision}",
        "-o", "split.kind=loso", "-o", f"split.only_folds={folds}",
    ]  # fmt: skip
    began = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    folder = args.work / name
    metrics = json.loads((folder / "metrics.json").read_text())
    histories = [json.loads(p.read_text()) for p in sorted(folder.glob("models/*/history.json"))]
    epoch_s = [row["seconds"] for history in histories for row in history]
    uar = metrics["summary"]["uar"]
    return {"uar": uar["value"], "ci": [uar["ci_low"], uar["ci_high"]],
            "seconds": time.perf_counter() - began, "epoch_s_mean": sum(epoch_s) / len(epoch_s),
            "epoch_s_max": max(epoch_s), "epochs": [len(h) for h in histories],
            "peak_rss_mb": peak_mb, "folds": metrics["folds"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHARED / "models" / "whisper-base-encoder"))
    parser.add_argument("--data", default=str(SHARED / "data" / "emodb"))
    parser.add_argument("--work", type=Path, default=HERE / "work" / "finetune")
    parser.add_argument("--folds", nargs="+", default=["speaker=03", "speaker=10"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--precision", default="bf16", choices=["no", "bf16"])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--out", default="finetune.json", help="file under benchmarks/results")
    args = parser.parse_args()
    results: dict = {"command": "python " + " ".join(sys.argv), "folds": args.folds,
                     "epochs": args.epochs, "precision": args.precision}  # fmt: skip
    for name in args.strategies:
        figures = run(f"emodb_{name}_{args.epochs}ep", STRATEGIES[name], args)
        results[name] = figures
        low, high = figures["ci"]
        print(f"{name:<8} UAR {figures['uar']:.3f} [{low:.3f}, {high:.3f}]  "
              f"{figures['epoch_s_mean']:.1f} s/epoch (max {figures['epoch_s_max']:.1f}; "
              f"target <= 120 s)  peak RSS {figures['peak_rss_mb']:.0f} MB  "
              f"epochs {figures['epochs']}", flush=True)  # fmt: skip
    for name in ("lora", "full"):
        if name in results:
            subprocess.run([sys.executable, "-m", "emotransfer.cli", "analyze", "adaptation",
                            str(args.work / f"emodb_{name}_{args.epochs}ep"), "--max-files", "60"],
                           check=True, cwd=REPO)  # fmt: skip
            report = json.loads((args.work / f"emodb_{name}_{args.epochs}ep" / "adaptation" /
                                 "adaptation.json").read_text())  # fmt: skip
            results[f"{name}_adaptation"] = report["layers"]
    if "frozen" in results:
        for name in ("partial", "lora", "full"):
            if name in results:
                gain = results[name]["uar"] - results["frozen"]["uar"]
                print(f"{name} - frozen weighted sum: {gain * 100:+.1f} UAR points (target >= +2)")
    out = HERE / "results" / args.out
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
