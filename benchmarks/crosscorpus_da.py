"""Leave-one-corpus-out on EmoDB, SAVEE and URDU (4 shared classes): source-only heads vs
domain-adversarial training (DANN) vs the domain-adversarial autoencoder (Gao et al. 2021).

Frozen whisper-base hidden state 3 (mean-pooled); the adaptive heads also see the held-out
corpus' features without labels. Prints each held-out corpus' UAR beside the source-only
anchors measured in the same run; writes benchmarks/results/crosscorpus_da.json.

    python benchmarks/crosscorpus_da.py [--normalization global] [--cache DIR]

With --tune, the adaptive heads' settings are chosen per held-out corpus by source-side
transfer validation, without its labels: for every setting of a small grid, train on one
source corpus with the other source as the unlabelled domain and score UAR on that other
source (both directions); the best setting then trains on both sources with the held-out
corpus unlabelled. Writes crosscorpus_da_<norm>_tuned.json.

    python benchmarks/crosscorpus_da.py --tune
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from emotransfer import experiment
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


CORPORA = ["emodb", "savee", "urdu"]
GRIDS = {
    "dann": [{"epochs": 60, "hidden": 256, "adversarial_weight": w} for w in (0.1, 0.3, 1.0)],
    "da_autoencoder": [
        {"epochs": 60, "adversarial_weight": w, "reconstruction_weight": r}
        for w in (0.1, 0.3, 1.0)
        for r in (0.1, 1.0)
    ],  # fmt: skip
}


def transfer_uar(args: argparse.Namespace, head: str, params: dict, train: list[str],
                 test: list[str], tag: str, extra: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """UAR of one cross-corpus fold: train on ``train``, test on ``test`` (unlabelled for
    the adaptive heads); ``extra`` overrides come last (e.g. a whole ``HEADS`` entry)."""
    roots = ", ".join(f"{{name: csv, root: ../shared/data/{c}}}" for c in [*train, *test])
    config = load_config(REPO / "configs" / "crosscorpus_4class.yaml", overrides=[
        f"name={tag}", f"cache_dir={args.cache}", f"output_dir={args.work}/tuning",
        f"features.normalization={args.normalization}", f"data.corpora=[{roots}]",
        "split.kind=cross_corpus", f"split.train_corpora={train}", f"split.test_corpora={test}",
        f"head.name={head}", "head.grid={}", f"head.params={params}", "evaluation.bootstrap=200",
        *extra,
    ])  # fmt: skip
    uar = experiment.run(config, progress=False).metrics["summary"]["uar"]
    return {"uar": uar["value"], "ci": [uar["ci_low"], uar["ci_high"]]}


def tuned(args: argparse.Namespace) -> dict:
    results: dict = {"command": "python " + " ".join(sys.argv), "grids": GRIDS}
    for target in CORPORA:
        sources = [c for c in CORPORA if c != target]
        cells = {"source_only_mlp": transfer_uar(args, "mlp", {}, sources, [target],
                                                 f"mlp_to_{target}")}  # fmt: skip
        for head, grid in GRIDS.items():
            scores = []
            for number, params in enumerate(grid):
                pairs = [(sources[0], sources[1]), (sources[1], sources[0])]
                uars = [
                    transfer_uar(args, head, params, [a], [b], f"{head}_{number}_{a}_to_{b}")["uar"]
                    for a, b in pairs
                ]
                scores.append(sum(uars) / 2)  # fmt: skip
            best = grid[max(range(len(grid)), key=scores.__getitem__)]
            cell = transfer_uar(args, head, best, sources, [target], f"{head}_to_{target}")
            cells[head] = {**cell, "params": best, "validation": scores}
        results[target] = cells
        anchor = cells["source_only_mlp"]["uar"]
        line = "  ".join(f"{h} {c['uar']:.3f} [{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]"
                         for h, c in cells.items())  # fmt: skip
        print(f"held out {target}: {line}", flush=True)
        for head in GRIDS:
            print(f"  {head} vs source-only MLP: ratio {cells[head]['uar'] / anchor:.3f} "
                  f"(settings {cells[head]['params']})", flush=True)  # fmt: skip
    return results


def loco_only(args: argparse.Namespace) -> dict:
    """Each head trained on two corpora, tested on the third (unlabelled for the adaptive
    heads), with the source-only heads as anchors in the same run."""
    results: dict = {"command": "python " + " ".join(sys.argv)}
    for name in args.heads:
        results[name] = {}
        for target in CORPORA:
            sources = [c for c in CORPORA if c != target]
            # The HEADS entry (head.name, head.params, ...) overrides the svm default.
            cell = transfer_uar(args, "svm", {}, sources, [target], f"{name}_to_{target}",
                                extra=tuple(HEADS[name]))  # fmt: skip
            results[name][target] = cell
        line = "  ".join(f"{t} {c['uar']:.3f} [{c['ci'][0]:.3f}, {c['ci'][1]:.3f}]"
                         for t, c in results[name].items())  # fmt: skip
        print(f"{name:<16} leave-one-corpus-out: {line}", flush=True)
    if "source_only_mlp" in results:
        for name in [h for h in ("dann", "da_autoencoder", "multitask") if h in results]:
            for target, cell in results[name].items():
                reference = results["source_only_mlp"][target]["uar"]
                print(f"{name} vs source-only MLP on {target}: {cell['uar']:.3f} / "
                      f"{reference:.3f} = {cell['uar'] / reference:.3f}")  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--normalization", default="global", choices=["global", "speaker", "corpus"]
    )
    parser.add_argument("--cache", default=str(HERE / "work" / "layer_probe" / "cache"))
    parser.add_argument("--work", default=str(HERE / "work" / "crosscorpus_da"))
    parser.add_argument("--heads", nargs="+", default=list(HEADS))
    parser.add_argument("--tune", action="store_true", help="source-side tuned DANN / DA-AE")
    parser.add_argument(
        "--loco-only",
        action="store_true",
        help="only the leave-one-corpus-out cells (no train-on-each x test-on-each matrix)",
    )
    args = parser.parse_args()
    if args.loco_only:
        out = HERE / "results" / f"crosscorpus_da_{args.normalization}_loco.json"
        out.write_text(json.dumps(loco_only(args), indent=1, default=str) + "\n")
        print(f"wrote {out}")
        return
    if args.tune:
        out = HERE / "results" / f"crosscorpus_da_{args.normalization}_tuned.json"
        out.write_text(json.dumps(tuned(args), indent=1, default=str) + "\n")
        print(f"wrote {out}")
        return
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
