"""Fine-tuning whisper-base on EmoDB: frozen weighted sum vs partial vs LoRA vs full.

Each strategy runs as its own process (so its peak memory is its own) through the
`emotransfer finetune` CLI on the same leave-one-speaker-out folds (a subset of held-out
speakers on this 2-core CPU, see --folds; `--folds all` for every speaker), with
speaker-grouped validation and early stopping. Prints UAR with its CI, seconds per epoch and
peak resident memory, and the layer adaptation of the LoRA and full runs.

With --probe, each fold's adapted encoder is exported (finetune.export_encoder) and probed
with the frozen-feature protocol of issue 3 (mean-pooled hidden states, per-speaker
normalisation, learned weighted layer sum), on that fold's held-out speaker only; the anchor
is the same probe on the pretrained encoder, on the same folds, in the same run.
With --compare-runs (no training), existing run folders are compared with the frozen probe
of the pretrained encoder on the same clips (`emotransfer analyze compare`): paired UAR
differences with bootstrap intervals over clips and over speakers, McNemar tests, the ensemble
and the oracle bound. Writes benchmarks/results/<--out>.

    python benchmarks/finetune.py [--folds speaker=03 speaker=10] [--epochs 4]
    python benchmarks/finetune.py --data ../shared/data/savee --folds all --strategies lora \
        --epochs 5 --probe --out finetune_savee_probe.json
    python benchmarks/finetune.py --folds all --compare-runs emodb_partial_4ep_spk_noval_lpft40 \
        emodb_lora_4ep_spk_noval_lpft40 --out finetune_emodb_compare.json
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from emotransfer.analysis.compare import compare
from emotransfer.config import load_config
from emotransfer.data.splits import speaker_keys
from emotransfer.evaluation.metrics import classification_report
from emotransfer.experiment import fold_predictions
from emotransfer.models.layers import LayerSumHead
from emotransfer.prepare import experiment_folds, layer_features, prepare_manifest
from emotransfer.training.frozen import run_fold

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
    only = "split.only_folds=[" + ", ".join(args.folds) + "]"
    folds = [] if args.folds == ["all"] else ["-o", only]
    export = ["-o", "finetune.export_encoder=true"] if args.probe else []
    export += [
        "-o",
        f"finetune.normalization={args.normalization}",
        "-o",
        f"finetune.validation_folds={args.validation_folds}",
        "-o",
        f"finetune.head_epochs={args.head_epochs}",
    ]
    if args.augment:
        export += ["-o", f"finetune.augment={args.augment}"]
    export += ["-o", f"seed={args.seed}"]
    command = [
        sys.executable, "-m", "emotransfer.cli", "finetune", "/dev/null", "--quiet",
        "-o", f"name={name}", "-o", f"output_dir={args.work}",
        "-o", f"data.corpora=[{{name: csv, root: {args.data}}}]",
        "-o", "features.upstream=hf",
        "-o", f"features.params={{model: {args.model}, whisper_input: real_length}}",
        "-o", f"finetune={strategy}", "-o", f"finetune.epochs={args.epochs}",
        "-o", "finetune.batch_size=8", "-o", f"finetune.patience={args.patience}",
        "-o", f"finetune.mixed_precision={args.precision}",
        "-o", "split.kind=loso", *folds, *export,
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


def run_name(args: argparse.Namespace, corpus: str, strategy: str) -> str:
    """The run folder's name: corpus, strategy, epochs and the non-default settings."""
    suffix = "_spk" if args.normalization == "speaker" else ""
    suffix += "_noval" if args.validation_folds == 0 else ""
    suffix += f"_lpft{args.head_epochs}" if args.head_epochs else ""
    suffix += "_aug" if args.augment else ""
    suffix += f"_seed{args.seed}" if args.seed else ""
    return f"{corpus}_{strategy}_{args.epochs}ep{suffix}"


def probe_config(args: argparse.Namespace, model: str | Path, cache: Path) -> Any:
    return load_config(None, overrides=[
        "name=probe", f"output_dir={args.work / 'probes'}", f"cache_dir={cache}",
        f"data.corpora=[{{name: csv, root: {args.data}}}]", "split.kind=loso",
        "features.upstream=hf",
        f"features.params={{model: {model}, dtype: bfloat16, whisper_input: real_length, "
        "num_threads: 2}", "features.pooling=mean", "features.normalization=speaker",
    ])  # fmt: skip


def probe_setup(args: argparse.Namespace) -> tuple:
    """The manifest, the pretrained encoder's cached layer features, classes, labels,
    speaker groups and LOSO folds (by name) of the probe protocol."""
    anchor_config = probe_config(args, args.model, args.probe_cache)
    table, _, skipped = prepare_manifest(anchor_config)
    anchor, table, _ = layer_features(anchor_config, table, skipped, progress=False)
    classes = sorted(table["emotion"].unique())
    labels = table["emotion"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    folds = {fold.name: fold for fold in experiment_folds(anchor_config, table)}
    return table, anchor, classes, labels, speaker_keys(table), folds


def anchor_predictions(args: argparse.Namespace) -> Path:
    """The frozen weighted-sum probe of the pretrained encoder on the --folds, as a CSV."""
    table, anchor, classes, labels, groups, folds = probe_setup(args)
    chosen = folds.values() if args.folds == ["all"] else [folds[name] for name in args.folds]
    results = [run_fold(LayerSumHead(seed=0), {}, anchor, labels, groups, fold, inner_folds=3,
                        seed=0) for fold in chosen]  # fmt: skip
    path = args.work / "probe_pretrained.csv"
    fold_predictions(table, results, classes, labels).to_csv(path, index=False)
    return path


def probe_adapted(args: argparse.Namespace, folder: Path) -> dict:
    """Weighted-layer-sum probe of each fold's adapted encoder on its own held-out speaker,
    beside the same probe of the pretrained encoder on the same folds."""
    table, anchor, classes, labels, groups, folds = probe_setup(args)
    adapted_results, anchor_results = [], []
    for encoder in sorted(folder.glob("models/*/encoder")):
        fold = folds[encoder.parent.name]
        cache = args.work / "probe_cache" / folder.name / fold.name
        config = probe_config(args, encoder, cache)
        features, fold_table, _ = layer_features(config, table.copy(), [], progress=False)
        assert list(fold_table["file"]) == list(table["file"])
        for results, values in ((adapted_results, features), (anchor_results, anchor)):
            results.append(run_fold(LayerSumHead(seed=0), {}, values, labels, groups, fold,
                                    inner_folds=3, seed=0))  # fmt: skip
        shutil.rmtree(cache, ignore_errors=True)
    fold_predictions(table, adapted_results, classes, labels).to_csv(
        folder / "probe_adapted.csv", index=False
    )
    figures = {}
    for key, results in (("adapted", adapted_results), ("pretrained", anchor_results)):
        test = np.concatenate([r.test for r in results])
        guess = np.concatenate([r.predicted for r in results])
        uar = classification_report(labels[test], guess, classes, seed=0)["summary"]["uar"]
        figures[key] = {"uar": uar["value"], "ci": [uar["ci_low"], uar["ci_high"]],
                        "folds": [r.name for r in results]}  # fmt: skip
    gain = figures["adapted"]["uar"] - figures["pretrained"]["uar"]
    print(
        f"probe of adapted encoders UAR {figures['adapted']['uar']:.3f} vs pretrained "
        f"{figures['pretrained']['uar']:.3f} ({gain * 100:+.1f} points, target >= +2; "
        f"ratio {figures['adapted']['uar'] / figures['pretrained']['uar']:.3f})",
        flush=True,
    )
    return figures


def compare_runs(args: argparse.Namespace, folders: list[str]) -> dict:
    """Each run folder (and its adapted-encoder probe, where saved) against the frozen
    weighted-sum probe of the pretrained encoder on the same clips: paired UAR differences
    (bootstrap over clips and over speakers), McNemar, the ensemble and the oracle bound."""
    systems, names = [anchor_predictions(args)], ["frozen_probe"]
    for folder in folders:
        systems.append(args.work / folder)
        names.append(folder)
        if (args.work / folder / "probe_adapted.csv").is_file():
            systems.append(args.work / folder / "probe_adapted.csv")
            names.append(f"{folder}:adapted_probe")
    reports = {unit: compare(systems, names=names, unit=unit) for unit in ("clip", "speaker")}
    anchor = reports["clip"]["systems"][0]["uar"]["value"]
    print(f"anchor frozen weighted-sum probe: UAR {anchor:.3f}; target >= {anchor + 0.02:.3f}")
    for clip, speaker in zip(reports["clip"]["pairs"], reports["speaker"]["pairs"]):
        a, b = clip["uar_difference"], speaker["uar_difference"]
        print(f"{clip['system']}: {a['value'] * 100:+.1f} points (target >= +2.0), paired 95% CI "
              f"[{a['ci_low'] * 100:+.1f}, {a['ci_high'] * 100:+.1f}] over clips, "
              f"[{b['ci_low'] * 100:+.1f}, {b['ci_high'] * 100:+.1f}] over speakers; "
              f"McNemar p {clip['mcnemar']['p_value']:.3f}")  # fmt: skip
    for key in ("ensemble", "oracle"):
        if reports["clip"][key] is not None:
            value = reports["clip"][key]["uar"]["value"]
            print(f"{key} of all: UAR {value:.3f} (ratio to anchor {value / anchor:.3f})")
    print(f"clips wrong in every system: {reports['clip']['all_wrong']}")
    return reports


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
    parser.add_argument(
        "--validation-folds",
        type=int,
        default=5,
        help="0: no validation speakers, train on all for --epochs",
    )
    parser.add_argument(
        "--head-epochs",
        type=int,
        default=0,
        help="finetune.head_epochs: LP-FT, train the head on frozen pooled states first",
    )
    parser.add_argument(
        "--normalization",
        default="global",
        choices=["global", "speaker"],
        help="finetune.normalization (speaker: per-speaker mean in the model)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the runs' seed")
    parser.add_argument(
        "--augment",
        default=None,
        help='finetune.augment as YAML, e.g. "[{name: noise, snr_db: [10, 30]}]"',
    )
    parser.add_argument(
        "--compare-runs",
        nargs="+",
        help="no training: compare these run folders (under --work) with the frozen probe",
    )
    parser.add_argument(
        "--probe-cache",
        type=Path,
        default=HERE / "work" / "layer_probe" / "cache",
        help="feature cache of the pretrained encoder (reused)",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="probe each fold's adapted encoder (weighted layer sum)",
    )
    args = parser.parse_args()
    if args.compare_runs:
        reports = compare_runs(args, args.compare_runs)
        out = HERE / "results" / args.out
        out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), **reports},
                                  indent=1, default=str) + "\n")  # fmt: skip
        print(f"wrote {out}")
        return
    corpus = Path(args.data).name
    results: dict = {"command": "python " + " ".join(sys.argv), "folds": args.folds,
                     "epochs": args.epochs, "precision": args.precision,
                     "normalization": args.normalization, "head_epochs": args.head_epochs,
                     "validation_folds": args.validation_folds,
                     "augment": args.augment, "seed": args.seed}  # fmt: skip
    for name in args.strategies:
        folder = run_name(args, corpus, name)
        figures = run(folder, STRATEGIES[name], args)
        results[name] = figures
        if args.probe:
            figures["probe"] = probe_adapted(args, args.work / folder)
        low, high = figures["ci"]
        print(f"{name:<8} UAR {figures['uar']:.3f} [{low:.3f}, {high:.3f}]  "
              f"{figures['epoch_s_mean']:.1f} s/epoch (max {figures['epoch_s_max']:.1f}; "
              f"target <= 120 s)  peak RSS {figures['peak_rss_mb']:.0f} MB  "
              f"epochs {figures['epochs']}", flush=True)  # fmt: skip
    for name in ("lora", "full"):
        if name in results:
            run_dir = args.work / run_name(args, corpus, name)
            subprocess.run([sys.executable, "-m", "emotransfer.cli", "analyze", "adaptation",
                            str(run_dir), "--max-files", "60"], check=True, cwd=REPO)  # fmt: skip
            report = json.loads((run_dir / "adaptation" / "adaptation.json").read_text())
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
