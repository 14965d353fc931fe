"""Where frame models on frozen whisper-base states lose against the weighted-sum probe on
EmoDB (issue 14, diagnostic): on 3 leave-one-speaker-out folds (speakers 03, 11, 15), the
probe, the probe's architecture (per-layer mean pooling, learned layer mix, linear head)
trained by the training loop, and attentive statistics pooling trained by the same loop.

Usage (from the repository root; writes benchmarks/results/frames_diagnostic.json as it goes)::

    python benchmarks/frames_diagnostic.py probe mean_trained attentive
    python benchmarks/frames_diagnostic.py mean_trained_batchnorm attentive_batchnorm
    python benchmarks/frames_diagnostic.py mean_probe_head attentive_probe_head
    python benchmarks/frames_diagnostic.py mean_trained_mixnorm attentive_mixnorm
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from architectures import FRAMES, SHARED, SYSTEMS

from emotransfer.config import load_config
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "frames_diagnostic.json"
BASE = ("finetune={strategy: frozen, cache_states: true, batch_size: 16, normalization: "
        "speaker, validation_folds: 0, refit: false, ")  # fmt: skip
VARIANTS = {
    "probe": (SYSTEMS["whisper_weighted_sum"], None),
    "mean_trained": ([*FRAMES, "model.params={pooling: mean}"],
                     "learning_rate: 0.001, epochs: 20}"),
    "attentive": ([*FRAMES, "model.params={pooling: attentive}"],
                  "learning_rate: 0.001, epochs: 20}"),
    # the head's layer norm (each clip across its features) replaced by a per-feature
    # standardisation (batch statistics of one speaker's batch), as the probe's z-score
    "mean_trained_batchnorm": ([*FRAMES, "model.params={pooling: mean, head_norm: batch}"],
                               "learning_rate: 0.001, epochs: 20}"),
    "attentive_batchnorm": ([*FRAMES, "model.params={pooling: attentive, head_norm: batch}"],
                            "learning_rate: 0.001, epochs: 20}"),
    # LP-FT whose head stage is the probe's fit (full batch, 120 steps at 1e-2, the
    # classifier's weight decay chosen on inner speaker folds): alone (epochs 0), and under
    # attentive pooling that starts as the plain mean and std, then 5 epochs at 3e-4
    "mean_probe_head": ([*FRAMES, "model.params={pooling: mean, head_norm: batch}"],
                        "learning_rate: 0.001, epochs: 0, head_epochs: 120, "
                        "head_recipe: probe}"),
    "attentive_probe_head": ([*FRAMES, "model.params={pooling: attentive, head_norm: batch, "
                              "pooling_params: {start: uniform}}"],
                             "learning_rate: 0.0003, epochs: 5, head_epochs: 120, "
                             "head_recipe: probe}"),
    # every hidden state's features standardised before the layer mix (model.params.mix_norm),
    # as the probe standardises each layer before mixing; the loop of mean_trained
    "mean_trained_mixnorm": ([*FRAMES, "model.params={pooling: mean, head_norm: batch, "
                              "mix_norm: true}"], "learning_rate: 0.001, epochs: 20}"),
    "attentive_mixnorm": ([*FRAMES, "model.params={pooling: attentive, head_norm: batch, "
                           "mix_norm: true}"], "learning_rate: 0.001, epochs: 20}"),
}  # fmt: skip


def main(names: list[str]) -> None:
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name in names:
        if name in results:
            continue
        overrides, tune = VARIANTS[name]
        config = load_config(None, overrides=[
            f"name=explore_{name}", "output_dir=runs/explore", "split.kind=loso",
            "split.only_folds=[speaker=03, speaker=11, speaker=15]",
            f"cache_dir={HERE / 'work' / 'architectures' / 'cache'}",
            f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]",
            "features.normalization=speaker", *overrides, *([BASE + tune] if tune else []),
        ])  # fmt: skip
        began = time.perf_counter()
        result = run(config, progress=False)
        results[name] = {"uar": result.metrics["summary"]["uar"],
                         "seconds": round(time.perf_counter() - began)}  # fmt: skip
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(name, results[name], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
