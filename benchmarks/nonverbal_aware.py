"""Nonverbal-aware speech emotion recognition (issue 14, item 6; Hsu et al. 2021): eGeMAPS +
SVM against the same SVM on eGeMAPS stacked with a nonverbal run's posteriors (16
vocalisation classes over 1 s windows every 0.5 s, pooled with mean, std, max and min),
leave-one-speaker-out on EmoDB and SAVEE, paired with `emotransfer analyze compare`.

The nonverbal run is benchmarks/nonverbal.py's (`--nonverbal RUN`; default its eGeMAPS + SVM
run; results of another run are keyed `<corpus>_<run name>`). What the corpora here allow:
EmoDB and SAVEE are acted read sentences, with few laughs, sobs or sighs inside them, so this
measures whether the posteriors carry emotion at all, not the gain on conversational speech
full of vocalisations (the paper's NNIME), which no corpus here provides.

Usage (from the repository root; writes benchmarks/results/nonverbal_aware.json)::

    python benchmarks/nonverbal_aware.py [--corpora emodb savee]
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
OUT = HERE / "results" / "nonverbal_aware.json"
DEFAULT_NV = "runs/benchmarks/nonverbal_egemaps_svm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="*", default=["emodb", "savee"])
    parser.add_argument("--nonverbal", default=DEFAULT_NV)
    parser.add_argument("--runs", default="runs/benchmarks_nv")
    parser.add_argument("--cache", default=str(HERE / "work" / "nonverbal_aware" / "cache"))
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    nonverbal = Path(args.nonverbal).resolve()
    stacked = ("features.params={upstreams: [{name: egemaps, pooling: mean}, {name: posteriors, "
               f"params: {{run: '{nonverbal}'}}}}], pooling: stats}}")  # fmt: skip
    systems = {"egemaps": ["features.upstream=egemaps"],
               "egemaps_nv": ["features.upstream=stack", stacked]}  # fmt: skip
    tag = "" if args.nonverbal == DEFAULT_NV else "_" + Path(args.nonverbal).name
    for corpus in args.corpora:
        key = corpus + tag
        if key in results:
            continue
        entry: dict = {"nonverbal_run": args.nonverbal}
        for name, overrides in systems.items():
            config = load_config(None, overrides=[
                f"name=nv_{key}_{name}", f"output_dir={args.runs}", f"cache_dir={args.cache}",
                f"data.corpora=[{{name: csv, root: {SHARED / 'data' / corpus}}}]",
                "split.kind=loso", "head.name=svm", *overrides,
            ])  # fmt: skip
            began = time.perf_counter()
            result = run(config, progress=False)
            entry[name] = {"uar": result.metrics["summary"]["uar"],
                           "dim": result.metrics["features"]["dim"],
                           "seconds": round(time.perf_counter() - began, 1),
                           "run_dir": str(result.run_dir)}  # fmt: skip
        runs = [entry[name]["run_dir"] for name in systems]
        report = compare(runs, names=list(systems), unit="speaker", bootstrap=1000, seed=0)
        entry["nv_minus_egemaps"] = report["pairs"][0]["uar_difference"]
        entry["mcnemar_p"] = report["pairs"][0]["mcnemar"]["p_value"]
        results[key] = entry
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(key, json.dumps(entry), flush=True)


if __name__ == "__main__":
    main()
