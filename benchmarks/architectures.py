"""The literature's architectures on the model contract (issue 14), first slice: the
multi-scale CNN with the statistical pooling unit (Peng et al., ICASSP 2021) trained from
log-mel on EmoDB leave-one-speaker-out, beside the same training loop without a body (pooled
log-mel statistics and a linear head) and the eGeMAPS + SVM anchor, all in the same run and on
the same folds; paired comparisons with `emotransfer analyze compare`.

Usage (from the repository root; writes benchmarks/results/architectures.json as it goes)::

    python benchmarks/architectures.py [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emotransfer.config import load_config
from emotransfer.experiment import run

SHARED = Path(__file__).resolve().parents[2] / "shared"
OUT = Path(__file__).resolve().parent / "results" / "architectures.json"
TRAINED = "finetune={strategy: full, batch_size: 16, learning_rate: 0.001, "
SYSTEMS = {
    "egemaps_svm": ["features.upstream=egemaps", "head.name=svm"],
    "logmel_pooled_linear": ["features.upstream=logmel", "model.params={pooling: mean_std}"],
    "logmel_mscnn_stats": [
        "features.upstream=logmel",
        "model.params={body: mscnn, body_params: {kernels: [3, 5, 7], channels: 32, layers: 2}, "
        "pooling: stats}",
    ],
    "logmel_lkcnn_stats": [
        "features.upstream=logmel",
        "model.params={body: lkcnn, body_params: {channels: 8, blocks: 2, kernel: [9, 31], "
        "small_kernel: 5}, pooling: stats}",
    ],
    "logmel_specaugment_mscnn_stats": [
        "features.upstream=logmel",
        "model.params={body: specaugment, body_params: {freq_masks: 2, freq_width: 8, "
        "time_masks: 2, time_width: 20, body: mscnn, body_params: {kernels: [3, 5, 7], "
        "channels: 32, layers: 2}}, pooling: stats}",
    ],
    "leaf_mscnn_stats": [
        "model.encoder=leaf", "model.encoder_params={num_filters: 64}",
        "model.params={body: mscnn, body_params: {kernels: [3, 5, 7], channels: 32, layers: 2}, "
        "pooling: stats}",
    ],
    "logmel_kst_stats": [
        "features.upstream=logmel",
        "model.params={body: kst, body_params: {width: 64, heads: 4, layers: 2, top_k: 16}, "
        "pooling: stats}",
    ],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--validation-folds",
        type=int,
        default=0,
        help="k > 1: early stopping on 1/k of the training speakers",
    )
    parser.add_argument("--only", nargs="*", default=None, help="systems to run")
    parser.add_argument("--runs", default="runs/benchmarks")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    suffix = f"_val{args.validation_folds}_e{args.epochs}" if args.validation_folds else ""
    for name, overrides in SYSTEMS.items():
        if args.only is not None and name not in args.only:
            continue
        key = name + suffix if name != "egemaps_svm" else name
        if key in results:
            continue
        trained = name != "egemaps_svm"
        extra = [TRAINED + f"epochs: {args.epochs}, normalization: speaker, "
                 f"validation_folds: {args.validation_folds}}}"] if trained else []  # fmt: skip
        refit = ["finetune.refit=false"] if trained else []
        config = load_config(None, overrides=[
            f"name=arch_{key}", f"output_dir={args.runs}", "split.kind=loso",
            f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]",
            "features.normalization=speaker", *overrides, *extra, *refit,
        ])  # fmt: skip
        began = time.perf_counter()
        result = run(config, progress=False)
        seconds = time.perf_counter() - began
        record = {"uar": result.metrics["summary"]["uar"], "seconds": round(seconds, 1),
                  "run_dir": str(result.run_dir)}  # fmt: skip
        if trained:
            record["epochs"] = args.epochs
        if trained:
            from emotransfer.inference import Predictor

            model = Predictor.from_run(result.run_dir, folds=True).scorer.models[0]
            record["parameters"] = sum(p.numel() for p in model.parameters())
            history = json.loads(next((result.run_dir / "models").glob("*/history.json"))
                                 .read_text())  # fmt: skip
            record["seconds_per_epoch"] = round(
                sum(r["seconds"] for r in history) / len(history), 2)  # fmt: skip
            record["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        results[key] = record
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(key, json.dumps(record), flush=True)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
