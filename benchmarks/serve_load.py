"""Load on the HTTP service (issue 16, item 6): 8 concurrent clients for 60 s posting 3 s
clips to `emotransfer serve` on 127.0.0.1 (a separate process, as deployed): latency p50/p95,
requests per second, errors, and the server's resident memory over the run.

The served run is eGeMAPS + SVM on EmoDB with global normalisation (a single clip needs no
speaker statistics), trained first if missing; the clips are EmoDB clips cut or padded to 3 s.

Usage (from the repository root; writes benchmarks/results/serve_load.json)::

    python benchmarks/serve_load.py [--clients 8] [--seconds 60]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import soundfile

from emotransfer.config import load_config
from emotransfer.data.audio import load_audio
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
OUT = HERE / "results" / "serve_load.json"


def served_run(runs: str) -> Path:
    config = load_config(None, overrides=[
        "name=serve_egemaps_svm_global", f"output_dir={runs}",
        f"cache_dir={HERE / 'work' / 'serve' / 'cache'}",
        f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]",
        "features.upstream=egemaps", "head.name=svm", "features.normalization=global",
    ])  # fmt: skip
    return run(config, progress=False).run_dir


def clips(count: int) -> list[bytes]:
    table = pd.read_csv(SHARED / "data" / "emodb" / "metadata.csv").head(count)
    made = []
    for name in table["file"]:
        wave = load_audio(SHARED / "data" / "emodb" / name)[: 3 * 16000]
        wave = np.pad(wave, (0, 3 * 16000 - len(wave)))
        buffer = io.BytesIO()
        soundfile.write(buffer, wave, 16000, format="WAV")
        made.append(buffer.getvalue())
    return made


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", default="runs/benchmarks")
    args = parser.parse_args()
    folder = served_run(args.runs)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "emotransfer.cli", "serve", str(folder), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        began = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/runs", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - began > 120 or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.5)
        startup = time.monotonic() - began
        payloads = clips(40)
        latencies: list[float] = []
        errors: list[str] = []
        memory = [rss_mb(server.pid)]
        stop = time.monotonic() + args.seconds

        def client(number: int) -> None:
            with httpx.Client(timeout=60) as session:
                sent = number
                while time.monotonic() < stop:
                    clip = payloads[sent % len(payloads)]
                    sent += args.clients
                    start = time.monotonic()
                    answer = session.post(f"{url}/predict", files={"file": ("c.wav", clip)})
                    latencies.append(time.monotonic() - start)
                    if answer.status_code != 200:
                        errors.append(f"{answer.status_code} {answer.text[:100]}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            memory.append(rss_mb(server.pid))
            time.sleep(1.0)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "clients": args.clients, "seconds": round(elapsed, 1), "requests": len(latencies),
        "errors": len(errors), "error_examples": errors[:3],
        "requests_per_second": round(len(latencies) / elapsed, 2),
        "latency_p50_s": round(float(np.percentile(latencies, 50)), 3),
        "latency_p95_s": round(float(np.percentile(latencies, 95)), 3),
        "rss_mb_start": round(memory[0], 1), "rss_mb_peak": round(max(memory), 1),
        "rss_mb_after_10s": round(memory[min(10, len(memory) - 1)], 1),
        "rss_mb_after_30s": round(memory[min(30, len(memory) - 1)], 1),
        "rss_mb_end": round(memory[-1], 1), "startup_s": round(startup, 1),
        "run": str(folder), "clip_seconds": 3.0, "cpus": os.cpu_count(),
    }  # fmt: skip
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
