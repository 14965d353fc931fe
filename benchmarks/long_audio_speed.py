"""Long audio speed (issue 16, item 2): a 10-minute recording through `Predictor.predict_long`
(windows of 2 s every 1 s, the whole file one speaker) with the frozen whisper-base probe;
target >= 50x real time on 2 cores. Also the same with `--vad` (WebRTC: silence gets no
window) and with non-overlapping windows (hop 2 s), and the eGeMAPS + SVM run as a reference.

The recording is EmoDB clips of two speakers, end to end with 0.5 s pauses, cut at 600 s.
Each figure is the best of `--repeats` timings after one warm-up call (model loading excluded,
reported apart).

Usage (from the repository root; writes benchmarks/results/long_audio_speed.json)::

    python benchmarks/long_audio_speed.py [--probe runs/benchmarks/arch_savee_whisper_weighted_sum]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emotransfer.data.audio import load_audio
from emotransfer.inference import Predictor
from emotransfer.inference.timeline import timeline

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "long_audio_speed.json"


def recording(seconds: float = 600.0) -> np.ndarray:
    table = pd.read_csv(SHARED / "data" / "emodb" / "metadata.csv")
    table = table[table["speaker"].astype(str).isin(["3", "03", "8", "08"])]
    pieces, total = [], 0.0
    pause = np.zeros(8000, dtype=np.float32)
    while total < seconds:
        for name in table["file"]:
            wave = load_audio(SHARED / "data" / "emodb" / name)
            pieces += [wave, pause]
            total += len(wave) / 16000 + 0.5
            if total >= seconds:
                break
    return np.concatenate(pieces)[: int(seconds * 16000)]


def timed(predictor: Predictor, wave: np.ndarray, repeats: int, **options: float) -> dict:
    timeline(predictor, wave[: 16000 * 20], **options)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        table = timeline(predictor, wave, **options)
        best = min(best, time.perf_counter() - began)
    seconds = len(wave) / 16000
    return {"seconds": round(best, 2), "windows": len(table),
            "real_time_factor": round(seconds / best, 1), **options}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--probe", default="runs/benchmarks/arch_savee_whisper_weighted_sum")
    parser.add_argument("--reference", default="runs/benchmarks/serve_egemaps_svm_global")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    wave = recording()
    results = {"audio_seconds": len(wave) / 16000, "threads": torch.get_num_threads(),
               "cpus": os.cpu_count()}  # fmt: skip
    for name, folder in (("whisper_probe", args.probe), ("egemaps_svm", args.reference)):
        began = time.perf_counter()
        predictor = Predictor.from_run(folder)
        loading = round(time.perf_counter() - began, 2)
        rows = {"run": folder, "load_seconds": loading}
        for label, options in (("window2_hop1", {"window_s": 2.0, "hop_s": 1.0}),
                               ("window2_hop2", {"window_s": 2.0, "hop_s": 2.0}),
                               ("window2_hop1_vad", {"window_s": 2.0, "hop_s": 1.0,
                                                     "vad": True})):  # fmt: skip
            rows[label] = timed(predictor, wave, args.repeats, **options)
            print(name, label, json.dumps(rows[label]), flush=True)
        results[name] = rows
        OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
