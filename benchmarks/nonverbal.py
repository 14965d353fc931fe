"""Nonverbal vocalisation classification (issue 14, item 6), first line: the 16 classes of
../shared/data/nonverbal (label column `vocalization`, through `data.labels.column`),
speaker-independent 5-fold (speaker k-fold; 410 speakers, 727 clips), the anchors eGeMAPS + SVM
and the frozen whisper-base weighted-sum probe (`features.layer: null`, `layer_sum` head) run on
the same folds and paired with `emotransfer analyze compare`; then trained models on the frozen
whisper-base states (computed once: `finetune.cache_states`): attentive statistics pooling of
the learned layer mix, and a multi-scale CNN with statistics pooling.

Usage (from the repository root; writes benchmarks/results/nonverbal.json as it goes)::

    python benchmarks/nonverbal.py [--only egemaps_svm whisper_weighted_sum]
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
OUT = HERE / "results" / "nonverbal.json"
WHISPER = SHARED / "models" / "whisper-base-encoder"
SYSTEMS = {
    "egemaps_svm": ["features.upstream=egemaps", "head.name=svm"],
    "whisper_weighted_sum": [
        "features.upstream=hf",
        f"features.params={{model: {WHISPER}, dtype: bfloat16, whisper_input: real_length, "
        "num_threads: 2}", "features.pooling=mean", "features.layer=null", "head.name=layer_sum",
    ],
}  # fmt: skip
# Trained on frozen whisper-base states computed once (finetune.cache_states): the learned
# layer mix, a frame-level model and a pooling, 20 epochs on every training speaker.
FRAMES = [
    "features.upstream=hf",
    f"features.params={{model: {WHISPER}, whisper_input: real_length}}",
    "finetune={strategy: frozen, cache_states: true, epochs: 20, batch_size: 16, "
    "learning_rate: 0.001, validation_folds: 0, normalization: global}",
]  # fmt: skip
SYSTEMS["whisper_frames_attentive"] = [*FRAMES, "model.params={pooling: attentive}"]
SYSTEMS["whisper_frames_mscnn"] = [
    *FRAMES, "model.params={body: mscnn, body_params: {kernels: [3, 5, 7], channels: 64, "
    "layers: 1}, pooling: stats}",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--runs", default="runs/benchmarks")
    parser.add_argument("--cache", default=str(HERE / "work" / "nonverbal" / "cache"))
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name, overrides in SYSTEMS.items():
        if (args.only is not None and name not in args.only) or name in results:
            continue
        config = load_config(None, overrides=[
            f"name=nonverbal_{name}", f"output_dir={args.runs}", f"cache_dir={args.cache}",
            f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'nonverbal'}}}]",
            "data.labels.column=vocalization", "split.kind=speaker_kfold", "split.folds=5",
            "features.normalization=auto", *overrides,
        ])  # fmt: skip
        began = time.perf_counter()
        result = run(config, progress=False)
        metrics = result.metrics
        results[name] = {
            "uar": metrics["summary"]["uar"], "seconds": round(time.perf_counter() - began, 1),
            "normalization": metrics["features"]["normalization_chosen"],
            "clips": metrics["data"]["n_files"], "speakers": metrics["data"]["n_speakers"],
            "classes": len(metrics["classes"]), "run_dir": str(result.run_dir),
        }  # fmt: skip
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(name, json.dumps(results[name]), flush=True)
    runs = [results[n]["run_dir"] for n in SYSTEMS if n in results]
    if len(runs) > 1:
        results["compare"] = compare(runs, names=[n for n in SYSTEMS if n in results],
                                     unit="speaker", bootstrap=1000, seed=0)  # fmt: skip
        OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
