"""Shared by the benchmarks that train on EmoDB and predict SAVEE (refit.py, calibration.py,
trained_refit.py): an EmoDB leave-one-speaker-out run, and SAVEE's manifest with absolute
paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emotransfer.config import load_config
from emotransfer.experiment import run

SHARED = Path(__file__).resolve().parents[2] / "shared"


def emodb_run(name: str, overrides: list[str], runs: Path) -> Path:
    """An EmoDB LOSO run (per-speaker normalisation) named ``name`` under ``runs``."""
    config = load_config(None, overrides=[
        f"name={name}", f"output_dir={runs}", "split.kind=loso",
        f"data.corpora=[{{name: csv, root: {SHARED / 'data' / 'emodb'}}}]",
        "features.normalization=speaker", "features.workers=2", *overrides,
    ])  # fmt: skip
    return run(config, progress=False).run_dir


def savee_table() -> pd.DataFrame:
    """SAVEE's metadata.csv with absolute file paths."""
    savee = pd.read_csv(SHARED / "data" / "savee" / "metadata.csv")
    savee["file"] = [str(SHARED / "data" / "savee" / f) for f in savee["file"]]
    return savee
