"""What a corpus of many hours costs on one machine (issue 27): extraction with the
whisper-base encoder and the frozen weighted-sum probe on generated corpora of 1, 4, 16 ...
hours: wall time, time per audio hour, peak resident memory, cache size per audio hour.

The audio is generated (no download): clips of 2-8 s at 16 kHz, 8 speakers, 4 classes that
differ in pitch range, pitch movement and loudness (something for the probe to learn), each
speaker with its own pitch offset; the corpus of H hours is the first clips of a fixed
sequence, so a larger corpus holds the smaller ones. Every stage of every size runs in a fresh
process (its peak resident memory is its own); extraction writes into a cache of its own per
size.

Usage (from the repository root; writes benchmarks/results/scale.json as it goes, a finished
stage is not rerun)::

    python benchmarks/scale.py --hours 1 4 16 [--stages extract probe]
    python benchmarks/scale.py --hours 0.25 1 --stages lora lora_in_memory

``lora``: one epoch of LoRA fine-tuning (rank 8, bf16 autocast) on three quarters of the
corpus (speaker fold 1 of 4 held out and predicted), the audio streamed from the files
(``finetune.stream_audio``); ``lora_in_memory``: the same with every clip decoded first.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
WHISPER = SHARED / "models" / "whisper-base-encoder"
WORK = HERE / "work" / "scale"
OUT = HERE / "results" / "scale.json"
RATE = 16000
CLASSES = ["anger", "happiness", "neutral", "sadness"]
SPEAKERS = 8
UPSTREAM = [
    "features.upstream=hf",
    f"features.params={{model: {WHISPER}, dtype: bfloat16, whisper_input: real_length, "
    "num_threads: 2}",
    "features.pooling=mean", "features.layer=null",
]  # fmt: skip


def clip(number: int) -> tuple[np.ndarray, str, str]:
    """The ``number``-th generated clip (the same for every run), its speaker and class."""
    rng = np.random.default_rng([27, number])
    speaker, label = number % SPEAKERS, (number // SPEAKERS) % len(CLASSES)
    seconds = rng.uniform(2.0, 8.0)
    t = np.arange(int(seconds * RATE)) / RATE
    base = 120.0 * 2 ** (speaker / 12) * (1.0, 1.5, 1.1, 0.85)[label]
    glide = (0.3, 0.2, 0.02, -0.15)[label] * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t)
    phase = 2 * np.pi * np.cumsum(base * (1 + glide)) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 5) * t) ** 2
    loud = (0.3, 0.22, 0.12, 0.07)[label]
    wave = loud * voice * syllables / 2 + 0.005 * rng.normal(size=t.size)
    return wave.astype(np.float32), f"spk{speaker}", CLASSES[label]


def corpus(hours: float) -> Path:
    """A csv corpus of the first clips totalling ``hours`` (files shared between sizes)."""
    folder = WORK / f"corpus_{hours:g}h"
    if (folder / "metadata.csv").is_file():
        return folder
    (WORK / "audio").mkdir(parents=True, exist_ok=True)
    rows, total, number = [], 0.0, 0
    while total < hours * 3600:
        path = WORK / "audio" / f"{number:06d}.wav"
        if path.is_file():
            seconds = soundfile.info(str(path)).duration
            speaker, label = f"spk{number % SPEAKERS}", CLASSES[(number // SPEAKERS) % 4]
        else:
            wave, speaker, label = clip(number)
            temporary = path.with_suffix(".tmp.wav")
            soundfile.write(temporary, wave, RATE, subtype="PCM_16")
            temporary.replace(path)
            seconds = len(wave) / RATE
        rows.append({"file": str(path), "speaker": speaker, "emotion": label})
        total, number = total + seconds, number + 1
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "metadata.csv", index=False)
    return folder


def cache_dir(hours: float) -> Path:
    return WORK / f"cache_{hours:g}h"


def config(hours: float, overrides: list[str]):
    from emotransfer.config import load_config

    return load_config(None, overrides=[
        f"name=scale_{hours:g}h", f"output_dir={WORK / 'runs'}", f"cache_dir={cache_dir(hours)}",
        f"data.corpora=[{{name: csv, root: {corpus(hours)}}}]", "split.kind=speaker_kfold",
        "split.folds=4", "features.normalization=speaker", *UPSTREAM, *overrides,
    ])  # fmt: skip


def child(stage: str, hours: float) -> dict:
    """Run one stage in this process; its wall time and peak resident memory."""
    began = time.perf_counter()
    if stage == "extract":
        from emotransfer.extraction import extract

        report = extract(config(hours, []), progress=False)
        detail = {"clips": report.clips, "skipped": len(report.skipped)}
    elif stage == "probe":
        from emotransfer.experiment import run

        result = run(config(hours, ["head.name=layer_sum"]), progress=False, force=True)
        detail = {"uar": result.metrics["summary"]["uar"]["value"]}
    elif stage in ("lora", "lora_in_memory"):
        from emotransfer.experiment import run

        stream = "true" if stage == "lora" else "false"
        result = run(config(hours, [
            f"name=scale_{stage}_{hours:g}h", "split.only_folds=[fold=1]",
            f"features.params={{model: {WHISPER}, whisper_input: real_length}}",
            "finetune={strategy: lora, params: {rank: 8}, epochs: 1, batch_size: 8, "
            "learning_rate: 0.0005, validation_folds: 0, refit: false, mixed_precision: bf16, "
            f"stream_audio: {stream}, loader_workers: 1}}",
        ]), progress=False, force=True)  # fmt: skip
        detail = {"uar": result.metrics["summary"]["uar"]["value"]}
    else:
        raise ValueError(f"unknown stage {stage!r}")
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # the largest
    return {"seconds": round(seconds, 1), "peak_rss_gb": round(peak, 2),
            "worker_peak_rss_gb": round(workers, 2), **detail}  # fmt: skip


def main(hours: list[float], stages: list[str], out: Path = OUT) -> None:
    results = json.loads(out.read_text()) if out.is_file() else {}
    for size in hours:
        folder = corpus(size)
        audio_hours = sum(soundfile.info(f).duration
                          for f in pd.read_csv(folder / "metadata.csv")["file"]) / 3600  # fmt: skip
        for stage in stages:
            key = f"{stage}_{size:g}h"
            if key in results:
                continue
            if stage == "extract":
                shutil.rmtree(cache_dir(size), ignore_errors=True)
            # a fresh run folder: a finished one of the same config would be reused
            for name in (f"scale_{size:g}h", f"scale_{stage}_{size:g}h"):
                shutil.rmtree(WORK / "runs" / name, ignore_errors=True)
            done = subprocess.run([sys.executable, __file__, "--child", stage, str(size)],
                                  capture_output=True, text=True)  # fmt: skip
            if done.returncode:
                raise SystemExit(f"{key} failed:\n{done.stderr[-3000:]}")
            record = json.loads(done.stdout.strip().splitlines()[-1])
            record["audio_hours"] = round(audio_hours, 3)
            record["seconds_per_audio_hour"] = round(record["seconds"] / audio_hours, 1)
            if stage == "extract":
                files = [p for p in cache_dir(size).rglob("*") if p.is_file()]
                size_gb = sum(p.stat().st_size for p in files) / 1e9
                record["cache_gb_per_audio_hour"] = round(size_gb / audio_hours, 3)
            results[key] = record
            out.write_text(json.dumps(results, indent=1) + "\n")
            print(key, record, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[1, 4, 16])
    parser.add_argument("--stages", nargs="+", default=["extract", "probe"])
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON")
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "HOURS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], float(args.child[1]))))
    else:
        main(args.hours, args.stages, args.out)
