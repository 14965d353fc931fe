"""Few-shot URDU: adapt to a new language with K labelled clips per class (MetaSER-style).

Sources: EmoDB (German) and SAVEE (English); target: URDU, on the 4 shared classes.
Features: a frozen whisper-base hidden state, mean-pooled, standardised per corpus (without
labels). The hidden state is chosen on the sources only (--layer auto): each source in turn
is a pseudo-target for K=5 transfer from the other, speaker-disjoint; URDU never takes part.
Meta-training tasks are the source corpora (--tasks corpus) or their speakers (--tasks
speaker: 14 tasks). Methods: MAML (first-order; classic shuffled class ids, and
``maml_shared`` keeping the harmonised emotion ids in every episode), transfer (pre-train on
the pooled sources, fine-tune), multitask (shared trunk, one head per task, new head on the
target), and a scratch MLP on the K clips alone (anchor); ``*_layers``: the transfer and scratch
methods on every hidden state, the one used chosen by cross-validation on the K support clips.
For K in {1, 5, 10, 20}, repeated;
mean UAR with a 95% t-interval over repeats, under two protocols: speaker-disjoint
support/query (the honest one: URDU's 26 single-emotion speakers make a random split leak
the label through the voice) and the random split of the few-shot literature.

    python benchmarks/fewshot.py [--repeats 10] [--layer auto] [--tasks speaker]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from emotransfer.config import load_config
from emotransfer.models.fewshot_baselines import (
    MultitaskBaseline,
    ScratchBaseline,
    TransferBaseline,
)
from emotransfer.models.fewshot_evaluation import few_shot_evaluation
from emotransfer.models.maml import MAMLClassifier
from emotransfer.models.normalize import Standardizer
from emotransfer.models.support_layer import SupportLayerChoice
from emotransfer.prepare import layer_features, prepare_manifest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def corpus_features(name: str, cache: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All hidden states ``(N, L + 1, D)``, standardised per corpus and state (no labels; for
    the target from its unlabelled clips), labels, speakers."""
    config = load_config(REPO / "configs" / "crosscorpus_4class.yaml", overrides=[
        f"cache_dir={cache}", f"data.corpora=[{{name: csv, root: ../shared/data/{name}}}]",
    ])  # fmt: skip
    table, _, skipped = prepare_manifest(config)
    features, table, _ = layer_features(config, table, skipped, progress=False)
    classes = ["anger", "happiness", "neutral", "sadness"]
    labels = table["emotion"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    features = Standardizer().fit(features).transform(features)
    speakers = (name + "/" + table["speaker"].astype(str)).to_numpy()
    return features.astype(np.float32), labels, speakers


def choose_layer(sources: list[tuple], repeats: int) -> tuple[int, list[float]]:
    """The hidden state with the best K=5 speaker-disjoint transfer between the sources."""
    scores = []
    for layer in range(sources[0][0].shape[1]):
        uars = []
        for target, source in ((0, 1), (1, 0)):
            x, y, _ = sources[source]
            method = TransferBaseline(hidden=128).meta_fit(x[:, layer], y, np.zeros(len(y)))
            tx, ty, tg = sources[target]
            uars.append(few_shot_evaluation(method, tx[:, layer], ty, shots=5, repeats=repeats,
                                            seed=1, target_groups=tg)["mean_uar"])  # fmt: skip
        scores.append(float(np.mean(uars)))
        print(f"layer {layer}: source-to-source K=5 UAR {scores[-1]:.3f}", flush=True)
    return int(np.argmax(scores)), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=str(HERE / "work" / "layer_probe" / "cache"))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--layer", default="auto", help="hidden state, or auto (chosen on sources)")
    parser.add_argument("--tasks", default="speaker", choices=["corpus", "speaker"])
    parser.add_argument("--protocols", nargs="+", default=["speaker", "random"])
    parser.add_argument("--out", default="fewshot_urdu.json")
    parser.add_argument("--methods", nargs="+", default=[
        "maml", "maml_shared", "transfer", "multitask", "scratch", "transfer_layers",
        "scratch_layers"])  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(2)
    sources = [corpus_features(name, args.cache) for name in ("emodb", "savee")]
    results: dict = {"command": "python " + " ".join(sys.argv), "tasks": args.tasks,
                     "methods": {}}  # fmt: skip
    if args.layer == "auto":
        layer, scores = choose_layer(sources, args.repeats)
        results["layer_selection"] = scores
    else:
        layer = int(args.layer)
    results["layer"] = layer
    print(f"hidden state {layer}")
    source_x = np.concatenate([s[0][:, layer] for s in sources])
    source_y = np.concatenate([s[1] for s in sources])
    if args.tasks == "corpus":
        source_g = np.concatenate([np.full(len(s[1]), i) for i, s in enumerate(sources)])
    else:
        source_g = np.unique(np.concatenate([s[2] for s in sources]), return_inverse=True)[1]
    target_all, target_y, target_speakers = corpus_features("urdu", args.cache)
    target_x = target_all[:, layer]
    source_all = np.concatenate([s[0] for s in sources])
    methods = {
        "maml": MAMLClassifier(ways=4, hidden=128, meta_steps=600, shots=5, queries=5),
        # The sources and URDU share the harmonised classes: episodes keep the class ids.
        "maml_shared": MAMLClassifier(
            ways=4, hidden=128, meta_steps=600, shots=5, queries=5, relabel=False
        ),  # fmt: skip
        "transfer": TransferBaseline(hidden=128),
        "multitask": MultitaskBaseline(hidden=128),
        "scratch": ScratchBaseline(hidden=128),
        # Every hidden state; the one used is chosen on the K support clips of each draw.
        "transfer_layers": SupportLayerChoice(method=TransferBaseline(hidden=128),
                                              fallback_layer=layer),
        "scratch_layers": SupportLayerChoice(method=ScratchBaseline(hidden=128),
                                             fallback_layer=layer),
    }  # fmt: skip
    methods = {name: methods[name] for name in args.methods}
    for name, method in methods.items():
        layers = isinstance(method, SupportLayerChoice)
        method.meta_fit(source_all if layers else source_x, source_y, source_g)
        rows: dict = {}
        for protocol in args.protocols:
            groups = target_speakers if protocol == "speaker" else None
            for shots in args.shots:
                figures = few_shot_evaluation(method, target_all if layers else target_x,
                                              target_y, shots=shots,
                                              repeats=args.repeats, seed=0,
                                              target_groups=groups)  # fmt: skip
                rows[f"{protocol}/{shots}"] = figures
                print(f"{name:<10} {protocol:<8} K={shots:<3} URDU UAR "
                      f"{figures['mean_uar']:.3f} [{figures['ci_low']:.3f}, "
                      f"{figures['ci_high']:.3f}]", flush=True)  # fmt: skip
        results["methods"][name] = rows
    for protocol in args.protocols:
        key = f"{protocol}/5"
        best = max(rows[key]["mean_uar"] for rows in results["methods"].values() if key in rows)
        print(f"best K=5 URDU UAR ({protocol} split) {best:.3f} vs target 0.75 "
              f"(ratio {best / 0.75:.3f})")  # fmt: skip
    out = HERE / "results" / args.out
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
