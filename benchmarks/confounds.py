"""The confound audit and the normalisation it chooses (issue 28): the frozen whisper-base
probe (ridge, every hidden state, LOSO) on URDU, EmoDB, SAVEE and TAVA (and TAVA without its
words) with per-speaker,
global and `auto` normalisation, paired on the same clips and folds, beside each corpus's
audit figures.

Usage (from the repository root; writes benchmarks/results/confounds.json as it goes)::

    python benchmarks/confounds.py [--model ../shared/models/whisper-base-encoder]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emotransfer.analysis.probing import run_probe
from emotransfer.config import load_config
from emotransfer.data.confounds import confound_audit
from emotransfer.prepare import prepare_manifest

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "confounds.json"
# tava_tegg: TAVA's stimuli with the words removed (the lexical control for TAVA's text).
CORPORA = ("urdu", "emodb", "savee", "tava", "tava_tegg")
NORMALIZATIONS = ("speaker", "global", "auto")


def config_of(corpus: str, normalization: str, model: str, work: Path):
    return load_config(None, overrides=[
        f"name={corpus}_{normalization}", f"output_dir={work / 'runs'}",
        f"cache_dir={work / 'cache'}",
        f"data.corpora=[{{name: csv, root: {SHARED / 'data' / corpus}, "
        "params: {missing_speaker: file}}]",
        "features.upstream=hf",
        f"features.params={{model: {model}, dtype: bfloat16, whisper_input: real_length, "
        "num_threads: 2}", "features.pooling=mean", "split.kind=loso",
        f"features.normalization={normalization}", "split.allow_confounded=true",
        "evaluation.bootstrap=1000",
        # TAVA's labels are its 16 affect words (outside the harmonised vocabulary): kept.
        *(["data.labels.other=keep"] if corpus.startswith("tava") else []),
    ])  # fmt: skip


def figures(audit: dict) -> dict:
    """The audit without the per-group distributions."""
    return {"groups": {name: {k: v for k, v in group.items() if k != "distribution"}
                       for name, group in audit["groups"].items()},
            "notes": audit["notes"], "warn": audit["warn"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(SHARED / "models" / "whisper-base-encoder"))
    parser.add_argument("--work", type=Path, default=HERE / "work" / "confounds")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for corpus in CORPORA:
        entry = results.setdefault(corpus, {})
        if "audit" not in entry:
            table, _, _ = prepare_manifest(config_of(corpus, "auto", args.model, args.work))
            dimensions = tuple(d for d in ("valence", "arousal", "dominance")
                               if d in table and table[d].notna().any())  # fmt: skip
            entry["audit"] = figures(confound_audit(table, dimensions=dimensions))
        for normalization in NORMALIZATIONS:
            if normalization in entry:
                continue
            began = time.perf_counter()
            config = config_of(corpus, normalization, args.model, args.work)
            folder, result = run_probe(config, progress=False)
            probed = json.loads((folder / "probe.json").read_text())
            best = max(result.layers, key=lambda row: row["uar"])
            entry[normalization] = {
                "chosen": probed["normalization"]["chosen"],
                "reason": probed["normalization"]["reason"],
                "selected_uar": result.selected["uar"],
                "selected_ci": [result.selected["ci_low"], result.selected["ci_high"]],
                "layers_chosen": sorted(set(result.selected["layers_chosen"].values())),
                "weighted_sum_uar": result.weighted_sum["uar"],
                "best_layer_on_test": [best["layer"], best["uar"]],
                "n_files": probed["n_files"],
                "seconds": round(time.perf_counter() - began, 1),
            }  # fmt: skip
            OUT.write_text(json.dumps(results, indent=1) + "\n")
            print(corpus, normalization, json.dumps(entry[normalization]), flush=True)


if __name__ == "__main__":
    main()
