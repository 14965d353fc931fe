"""CLI start time (issue 17, item 4/6): `emotransfer --help` and `emotransfer corpora` beside
`python -c pass` (the interpreter alone) and `python -c "import torch"` (what a command that
trains pays), measured in the same run: the median of N runs of each, fresh processes.

Usage (from the repository root; writes benchmarks/results/cli_startup.json)::

    python benchmarks/cli_startup.py [--repeats 11]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "cli_startup.json"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "emotransfer --help": [sys.executable, "-m", "emotransfer.cli", "--help"],
    "emotransfer corpora": [sys.executable, "-m", "emotransfer.cli", "corpora"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}
if shutil.which("emotransfer"):  # the installed console script (its entry-point lookup too)
    COMMANDS["emotransfer --help (console script)"] = [shutil.which("emotransfer"), "--help"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    results = {}
    for _ in range(2):  # warm the file cache
        for command in COMMANDS.values():
            subprocess.run(command, capture_output=True, check=True)
    for name, command in COMMANDS.items():
        times = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - began)
        results[name] = {"median_s": round(statistics.median(times), 3),
                         "min_s": round(min(times), 3), "max_s": round(max(times), 3)}  # fmt: skip
        print(f"{name:<28} median {results[name]['median_s']:.3f} s", flush=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
