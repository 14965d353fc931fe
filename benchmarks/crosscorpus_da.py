"""Leave-one-corpus-out on EmoDB, SAVEE and URDU (4 shared classes): source-only heads vs
domain-adversarial training (DANN) vs the domain-adversarial autoencoder (Gao et al. 2021).

Frozen whisper-base hidden state 3 (mean-pooled); the adaptive heads also see the held-out
corpus' features without labels. Prints each held-out corpus' UAR beside the source-only
anchors measured in the same run; writes benchmarks/results/crosscorpus_da.json.

    python benchmarks/crosscorpus_da.py [--normalization global] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emotransfer.analysis.crosscorpus import run_crosscorpus
from emotransfer.config import load_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

HEADS = {
    "source_only_svm": ["head.name=svm"],
    "source_only_mlp": ["head.name=mlp", "head.grid={}"],
    "dann": ["head.name=dann", "head.params={epochs: 60, hidden: 256}"],
    "da_autoencoder": ["head.name=da_autoencoder", "head.params={epochs: 60}"],
    "multitask": [
        "head.name=multitask",
        "head.params={epochs: 300, hidden: 256}",
        "head.auxiliary=[gender, corpus]",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normalization", default="global", choices=["global", "speaker"])
    parser.add_argument("--cache", default=str(HERE / "work" / "layer_probe" / "cache"))
    parser.add_argument("--work", default=str(HERE / "work" / "crosscorpus_da"))
    parser.add_argument("--heads", nargs="+", default=list(HEADS))
    args = parser.parse_args()
    results: dict = {"command": "python " + " ".join(sys.argv)}
    for name in args.heads:
        overrides = HEADS[name]
        config = load_config(REPO / "configs" / "crosscorpus_4class.yaml", overrides=[
            f"name={name}_{args.normalization}", f"cache_dir={args.cache}",
            f"output_dir={args.work}", f"features.normalization={args.normalization}",
            *overrides,
        ])  # fmt: skip
        _, result = run_crosscorpus(config, progress=False)
        results[name] = result
        line = "  ".join(f"{c['test']} {c['uar']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}]"
                         for c in result["leave_one_corpus_out"])  # fmt: skip
        print(f"{name:<16} leave-one-corpus-out: {line}", flush=True)
    if "source_only_mlp" not in results:
        print("no source-only MLP anchor in this run")
        return
    anchor = {c["test"]: c["uar"] for c in results["source_only_mlp"]["leave_one_corpus_out"]}
    for name in [h for h in ("dann", "da_autoencoder", "multitask") if h in results]:
        for cell in results[name]["leave_one_corpus_out"]:
            reference = anchor[cell["test"]]
            print(f"{name} vs source-only MLP on {cell['test']}: {cell['uar']:.3f} / "
                  f"{reference:.3f} = {cell['uar'] / reference:.3f}")  # fmt: skip
    suffix = "" if args.heads == list(HEADS) else "_" + "_".join(args.heads)
    out = HERE / "results" / f"crosscorpus_da_{args.normalization}{suffix}.json"
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
