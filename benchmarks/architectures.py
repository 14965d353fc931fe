"""The literature's architectures on the model contract (issue 14), leave-one-speaker-out on
EmoDB or SAVEE: trained from log-mel or LEAF (the multi-scale CNN with the statistical pooling
unit, SpecAugment in front of it, the key-sparse transformer, the large-kernel CNN), beside the
same training loop without a body and the eGeMAPS + SVM anchor; and trained on frozen
whisper-base frames (states computed once, `finetune.cache_states`) beside the frozen
whisper-base weighted-sum probe, all on the same folds; paired comparisons with
`emotransfer analyze compare`.

Usage (from the repository root; writes benchmarks/results/architectures.json as it goes; keys
of corpora other than EmoDB start with the corpus name)::

    python benchmarks/architectures.py [--corpus savee] [--epochs 20] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from emotransfer.config import load_config
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
OUT = HERE / "results" / "architectures.json"
WHISPER = SHARED / "models" / "whisper-base-encoder"
TRAINED = "finetune={strategy: full, batch_size: 16, learning_rate: 0.001, "
SYSTEMS = {
    "egemaps_svm": ["features.upstream=egemaps", "head.name=svm"],
    "logmel_pooled_linear": ["features.upstream=logmel", "model.params={pooling: mean_std}"],
    "logmel_mscnn_stats": [
        "features.upstream=logmel",
        "model.params={body: mscnn, body_params: {kernels: [3, 5, 7], channels: 32, layers: 2}, "
        "pooling: stats}",
    ],
    "logmel_lkcnn_stats": [
        "features.upstream=logmel",
        "model.params={body: lkcnn, body_params: {channels: 8, blocks: 2, kernel: [9, 31], "
        "small_kernel: 5}, pooling: stats}",
    ],
    "logmel_specaugment_mscnn_stats": [
        "features.upstream=logmel",
        "model.params={body: specaugment, body_params: {freq_masks: 2, freq_width: 8, "
        "time_masks: 2, time_width: 20, body: mscnn, body_params: {kernels: [3, 5, 7], "
        "channels: 32, layers: 2}}, pooling: stats}",
    ],
    "leaf_mscnn_stats": [
        "model.encoder=leaf", "model.encoder_params={num_filters: 64}",
        "model.params={body: mscnn, body_params: {kernels: [3, 5, 7], channels: 32, layers: 2}, "
        "pooling: stats}",
    ],
    "logmel_kst_stats": [
        "features.upstream=logmel",
        "model.params={body: kst, body_params: {width: 64, heads: 4, layers: 2, top_k: 16, "
        "stride: 4}, "
        "pooling: stats}",
    ],
}  # fmt: skip
# On frozen whisper-base states, computed once per run (finetune.cache_states): the learned layer
# mix, then the frame-level body and pooling; the anchor is the frozen weighted-sum probe.
SYSTEMS["whisper_weighted_sum"] = [
    "features.upstream=hf",
    f"features.params={{model: {WHISPER}, dtype: bfloat16, whisper_input: real_length, "
    "num_threads: 2}", "features.pooling=mean", "features.layer=null", "head.name=layer_sum",
]  # fmt: skip
FRAMES = [
    "features.upstream=hf", f"features.params={{model: {WHISPER}, whisper_input: real_length}}"
]  # fmt: skip
SYSTEMS["whisper_frames_attentive"] = [*FRAMES, "model.params={pooling: attentive}"]
SYSTEMS["whisper_frames_mscnn_stats"] = [
    *FRAMES, "model.params={body: mscnn, body_params: {kernels: [3, 5, 7], channels: 64, "
    "layers: 1}, pooling: stats}",
]  # fmt: skip
SYSTEMS["whisper_frames_kst_stats"] = [
    *FRAMES, "model.params={body: kst, body_params: {width: 64, heads: 4, layers: 1, top_k: 16}, "
    "pooling: stats}",
]  # fmt: skip
# Two views of the audio in one model: the whisper frames and the clip's log-mel, each
# attended by the other's summary (Peng et al.'s attention block between audio views).
SYSTEMS["whisper_frames_logmel_attention"] = [
    *FRAMES, "inputs.audio_mel={upstream: logmel}", "model.fusion=attention",
    "model.params={fusion_params: {attention_size: 64}}",
]  # fmt: skip
# What the two-view model's loss comes from: the same attention fusion on the whisper frames
# alone, and both views each through attentive statistics pooling, concatenated.
SYSTEMS["whisper_frames_attention_fusion"] = [
    *FRAMES, "model.fusion=attention", "model.params={fusion_params: {attention_size: 64}}",
]  # fmt: skip
SYSTEMS["whisper_frames_logmel_attentive_concat"] = [
    *FRAMES, "inputs.audio_mel={upstream: logmel}", "model.fusion=concat",
    "model.params={pooling: attentive}",
]  # fmt: skip
UNTRAINED = ("egemaps_svm", "whisper_weighted_sum")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--validation-folds",
        type=int,
        default=0,
        help="k > 1: early stopping on 1/k of the training speakers",
    )
    parser.add_argument("--only", nargs="*", default=None, help="systems to run")
    parser.add_argument("--corpus", default="emodb", choices=["emodb", "savee"])
    parser.add_argument("--runs", default="runs/benchmarks")
    parser.add_argument("--cache", default=str(HERE / "work" / "architectures" / "cache"))
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.is_file() else {}
    suffix = f"_val{args.validation_folds}_e{args.epochs}" if args.validation_folds else ""
    for name, overrides in SYSTEMS.items():
        if args.only is not None and name not in args.only:
            continue
        key = name + suffix if name not in UNTRAINED else name
        key = key if args.corpus == "emodb" else f"{args.corpus}_{key}"
        if key in results:
            continue
        trained = name not in UNTRAINED
        trained_as = TRAINED
        if name.startswith("whisper_frames"):
            trained_as = TRAINED.replace("strategy: full", "strategy: frozen, cache_states: true")
        extra = [trained_as + f"epochs: {args.epochs}, normalization: speaker, "
                 f"validation_folds: {args.validation_folds}}}"] if trained else []  # fmt: skip
        refit = ["finetune.refit=false"] if trained else []
        config = load_config(None, overrides=[
            f"name=arch_{key}", f"output_dir={args.runs}", "split.kind=loso",
            f"cache_dir={args.cache}",
            f"data.corpora=[{{name: csv, root: {SHARED / 'data' / args.corpus}}}]",
            "features.normalization=speaker", *overrides, *extra, *refit,
        ])  # fmt: skip
        began = time.perf_counter()
        result = run(config, progress=False)
        seconds = time.perf_counter() - began
        record = {"uar": result.metrics["summary"]["uar"], "seconds": round(seconds, 1),
                  "run_dir": str(result.run_dir)}  # fmt: skip
        if trained:
            record["epochs"] = args.epochs
        if trained:
            from emotransfer.inference import Predictor

            model = Predictor.from_run(result.run_dir, folds=True).scorer.models[0]
            record["parameters"] = sum(p.numel() for p in model.parameters())
            history = json.loads(next((result.run_dir / "models").glob("*/history.json"))
                                 .read_text())  # fmt: skip
            record["seconds_per_epoch"] = round(
                sum(r["seconds"] for r in history) / len(history), 2)  # fmt: skip
            record["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        results[key] = record
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(key, json.dumps(record), flush=True)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
