"""Control for the nonverbal-aware gain (issue 14): is it the vocalisation cues, or whisper's
features seen through any 16-way classifier? The same whisper-base weighted-sum probe is
trained on the nonverbal clips with their vocalisation labels permuted (seeded: the classes
keep their counts, the clips lose their meaning), and its posteriors are stacked with eGeMAPS
on EmoDB exactly as benchmarks/nonverbal_aware.py stacks the real nonverbal run's.

Usage (from the repository root, after benchmarks/nonverbal.py; adds `emodb_<run>` to
benchmarks/results/nonverbal_aware.json)::

    python benchmarks/nonverbal_control.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from emotransfer.config import load_config
from emotransfer.experiment import run

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
WORK = HERE / "work" / "nonverbal"
NAME = "nonverbal_whisper_weighted_sum_permuted"


def main() -> None:
    root = WORK / "permuted"
    root.mkdir(parents=True, exist_ok=True)
    source = SHARED / "data" / "nonverbal"
    table = pd.read_csv(source / "metadata.csv")
    table["file"] = [str(source / name) for name in table["file"]]
    table["vocalization"] = np.random.default_rng(0).permutation(table["vocalization"].to_numpy())
    table.to_csv(root / "metadata.csv", index=False)
    whisper = SHARED / "models" / "whisper-base-encoder"
    config = load_config(None, overrides=[
        f"name={NAME}", "output_dir=runs/benchmarks", f"cache_dir={WORK / 'cache'}",
        f"data.corpora=[{{name: csv, root: {root}}}]", "data.labels.column=vocalization",
        "split.kind=speaker_kfold", "split.folds=5", "features.normalization=auto",
        "features.upstream=hf",
        f"features.params={{model: {whisper}, dtype: bfloat16, whisper_input: real_length, "
        "num_threads: 2}", "features.pooling=mean", "features.layer=null",
        "head.name=layer_sum",
    ])  # fmt: skip
    result = run(config, progress=False)
    print(NAME, "nonverbal UAR", result.metrics["summary"]["uar"]["value"], flush=True)
    subprocess.run([sys.executable, str(HERE / "nonverbal_aware.py"), "--corpora", "emodb",
                    "--nonverbal", str(result.run_dir)], check=True)  # fmt: skip


if __name__ == "__main__":
    main()
