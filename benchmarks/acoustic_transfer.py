"""Transfer clean -> corrupted: which layers adapt when only the acoustics change?

The acoustic-similarity half of Triantafyllopoulos & Schuller (ICASSP 2021), fine-tuned.
EmoDB is split into two disjoint speaker sets: A (stage 1, clean audio, emotion labels) and
B (stage 2 targets, leave-one-speaker-out). B's audio is clean or a corrupted copy (white
noise at 0 dB SNR: the condition that hurt the frozen probe most). Runs, all with LoRA in
stage 2 on whisper-base (speaker-normalised pooling, --normalization; LP-FT: the head
warms up on frozen pooled states first, --head-epochs; all training speakers train):

- ``direct_corrupted``: LoRA from the pretrained encoder on corrupted B (no stage 1);
- ``clean_to_corrupted``: stage 1 full fine-tuning on clean A, then LoRA on corrupted B;
- ``clean_to_clean``: the same stage 1, then LoRA on clean B (task transfer only).

For the two-stage runs, ``emotransfer analyze adaptation --reference source`` measures what
stage 2 alone changed, per layer (weight change and CKA on the held-out clips). Prints the
UARs (the direct run is the anchor, measured in the same run) and the per-layer changes;
writes benchmarks/results/acoustic_transfer.json.

    python benchmarks/acoustic_transfer.py [--epochs 4] [--source-epochs 3] [--head-epochs 40]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from emotransfer.data.corrupt_corpus import corrupt_corpus
from emotransfer.data.load import load_corpora

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared"
SPEAKERS_A = ["03", "08", "09", "10", "11"]  # 3 male, 2 female
CORRUPTION = {"name": "noise", "snr_db": 0, "noise": "white"}


def finetune(name: str, target: Path, args: argparse.Namespace, two_stage: bool) -> dict:
    speakers = ", ".join(f"'{s}'" for s in SPEAKERS_A)  # quoted: YAML reads 03 as a number
    corpus = f"{{name: csv, root: {target}, exclude_speakers: [{speakers}]}}"
    source = f"[{{name: csv, root: {args.data}, speakers: [{speakers}]}}]"
    stage_one = [
        "-o", f"finetune.source={source}", "-o", "finetune.source_strategy=full",
        "-o", "finetune.source_params={encoder_lr_scale: 0.1}",
        "-o", f"finetune.source_epochs={args.source_epochs}",
    ] if two_stage else []  # fmt: skip
    command = [
        sys.executable, "-m", "emotransfer.cli", "finetune", "/dev/null", "--quiet",
        "-o", f"name={name}", "-o", f"output_dir={args.work}",
        "-o", f"data.corpora=[{corpus}]", "-o", "features.upstream=hf",
        "-o", f"features.params={{model: {args.model}, whisper_input: real_length}}",
        "-o", "finetune={strategy: lora, params: {rank: 8, alpha: 16}, learning_rate: 0.001}",
        "-o", f"finetune.epochs={args.epochs}", "-o", "finetune.patience=2",
        "-o", "finetune.mixed_precision=bf16", "-o", "split.kind=loso", *stage_one,
        "-o", f"finetune.normalization={args.normalization}",
        "-o", f"finetune.head_epochs={args.head_epochs}",
        "-o", f"finetune.validation_folds={args.validation_folds}",
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    metrics = json.loads((args.work / name / "metrics.json").read_text())
    uar = metrics["summary"]["uar"]
    return {"uar": uar["value"], "ci": [uar["ci_low"], uar["ci_high"]]}


def adaptation(name: str, args: argparse.Namespace) -> list[dict]:
    layers: dict[int, list[dict]] = {}
    for fold in sorted((args.work / name / "models").glob("*/trainable.safetensors")):
        subprocess.run([sys.executable, "-m", "emotransfer.cli", "analyze", "adaptation",
                        str(args.work / name), "--reference", "source", "--fold",
                        fold.parent.name, "--max-files", "40"], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        report = json.loads((args.work / name / "adaptation" / "adaptation.json").read_text())
        for row in report["layers"]:
            layers.setdefault(row["layer"], []).append(row)
    return [{"layer": layer,
             "cka": sum(r["cka"] for r in rows) / len(rows),
             "weight_change": sum(r["weight_change"] or 0.0 for r in rows) / len(rows)}
            for layer, rows in sorted(layers.items())]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHARED / "models" / "whisper-base-encoder"))
    parser.add_argument("--data", default=str(SHARED / "data" / "emodb"))
    parser.add_argument("--work", type=Path, default=HERE / "work" / "acoustic_transfer")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--source-epochs", type=int, default=3)
    parser.add_argument("--normalization", default="speaker", choices=["global", "speaker"])
    parser.add_argument("--head-epochs", type=int, default=40, help="LP-FT warm-up passes")
    parser.add_argument("--validation-folds", type=int, default=0,
                        help="0: every training speaker trains, for --epochs")  # fmt: skip
    args = parser.parse_args()
    corrupted = args.work / "emodb_white0db"
    if not (corrupted / "metadata.csv").is_file():
        table, _ = load_corpora([{"name": "csv", "root": args.data}])
        corrupt_corpus(table, CORRUPTION, out_dir=corrupted, seed=0, condition="white_0db")
    results: dict = {"command": "python " + " ".join(sys.argv), "corruption": CORRUPTION,
                     "source_speakers": SPEAKERS_A}  # fmt: skip
    results["direct_corrupted"] = finetune("direct_corrupted", corrupted, args, False)
    results["clean_to_corrupted"] = finetune("clean_to_corrupted", corrupted, args, True)
    # The same stage 1 serves both two-stage runs: reuse it instead of training it twice.
    shared = args.work / "clean_to_clean" / "source"
    if not (shared / "encoder.safetensors").is_file():
        shutil.copytree(args.work / "clean_to_corrupted" / "source", shared, dirs_exist_ok=True)
    results["clean_to_clean"] = finetune("clean_to_clean", Path(args.data), args, True)
    anchor = results["direct_corrupted"]["uar"]
    for name in ("direct_corrupted", "clean_to_corrupted", "clean_to_clean"):
        figures = results[name]
        print(
            f"{name:<20} UAR {figures['uar']:.3f} [{figures['ci'][0]:.3f}, "
            f"{figures['ci'][1]:.3f}]  ratio to direct {figures['uar'] / anchor:.3f}"
        )
    for name in ("clean_to_corrupted", "clean_to_clean"):
        results[f"{name}_adaptation"] = rows = adaptation(name, args)
        print(f"{name} stage-2 adaptation (layer: weight change, CKA): " + ", ".join(
            f"{r['layer']}: {r['weight_change']:.3f}/{r['cka']:.2f}" for r in rows))  # fmt: skip
    out = HERE / "results" / "acoustic_transfer.json"
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
