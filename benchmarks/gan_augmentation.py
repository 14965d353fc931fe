"""GAN data augmentation of pooled features (issue 14, item 5): does it help a small training
set? eGeMAPS + SVM against the same SVM fitted on real + WGAN-GP-generated rows (`head.name:
gan`, the GAN trained inside each training fold only), leave-one-speaker-out, with the
training folds cut to 5, 10 and 20 clips per class (`split.train_per_class`, the same draw for
both systems) and uncut; EmoDB, SAVEE and URDU. Each pair is compared on the same clips with
`emotransfer analyze compare` (bootstrap over speakers, McNemar).

Usage (from the repository root; writes benchmarks/results/gan_augmentation.json as it goes)::

    python benchmarks/gan_augmentation.py [--corpora emodb savee urdu] [--sizes 5 10 20 0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emotransfer.analysis.compare import compare
from emotransfer.config import load_config
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "gan_augmentation.json"
SYSTEMS = {"svm": ["head.name=svm"], "gan": ["head.name=gan"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="*", default=["emodb", "savee", "urdu"])
    parser.add_argument("--sizes", nargs="*", type=int, default=[5, 10, 20, 0],
                        help="training clips per class per fold (0: all)")  # fmt: skip
    parser.add_argument("--runs", default="runs/benchmarks_gan")
    parser.add_argument("--cache", default=str(HERE / "work" / "gan" / "cache"))
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for corpus in args.corpora:
        for size in args.sizes:
            key = f"{corpus}_{size or 'all'}"
            if key in results:
                continue
            entry: dict = {}
            for name, overrides in SYSTEMS.items():
                config = load_config(None, overrides=[
                    f"name=gan_{key}_{name}", f"output_dir={args.runs}",
                    f"cache_dir={args.cache}", "split.kind=loso",
                    f"data.corpora=[{{name: csv, root: {SHARED / 'data' / corpus}, "
                    "params: {missing_speaker: file}}]",
                    "features.upstream=egemaps", "features.normalization=auto",
                    *([f"split.train_per_class={size}"] if size else []), *overrides,
                ])  # fmt: skip
                began = time.perf_counter()
                result = run(config, progress=False)
                entry[name] = {"uar": result.metrics["summary"]["uar"],
                               "seconds": round(time.perf_counter() - began, 1),
                               "run_dir": str(result.run_dir)}  # fmt: skip
            runs = [entry["svm"]["run_dir"], entry["gan"]["run_dir"]]
            report = compare(runs, names=["svm", "gan"], unit="speaker", bootstrap=1000, seed=0)
            entry["gan_minus_svm"] = report["pairs"][0]["uar_difference"]
            entry["mcnemar_p"] = report["pairs"][0]["mcnemar"]["p_value"]
            results[key] = entry
            OUT.write_text(json.dumps(results, indent=1) + "\n")
            print(key, json.dumps(entry), flush=True)


if __name__ == "__main__":
    main()
