"""Run nkululeko on EmoDB for the same experiment as ours, as an external anchor.

Experiment: 7 emotions, leave-one-speaker-out over the 10 speakers (nkululeko's
``[MODEL] logo = 10``; with 10 speakers every group is one speaker), SVM (its
defaults: rbf, C=1, gamma="scale"), opensmile functionals, ``[FEATS] scale =
standard``.  nkululeko fits that scaler once, on the train part of its
train/test split, and applies it to all data before the LOGO loop (not per
fold).  Its default ``speaker_split`` draws the 2 test speakers with an unseeded
``random.sample``, which moves the UAR by a few points from run to run
(eGeMAPS 0.62-0.66), so the split is pinned: test speakers 08 and 12.  With no
``scale`` key nkululeko does not scale at all (eGeMAPS UAR ~0.18).

The UAR returned is the one nkululeko reports as the experiment result
(``results/<exp>_runs.txt``): the UAR of all 535 pooled out-of-fold
predictions.  ``uar_fold_mean`` is the mean of the per-speaker UARs
(``results/run_0/logo_results.txt``).  ``seconds`` is the wall time of the
whole ``python -m nkululeko.nkululeko`` subprocess, interpreter start included.

nkululeko is not imported here: it lives in its own venv (default /work/nkvenv)
and is called as a subprocess.  Usage::

    python benchmarks/nkululeko_anchor.py [--data-dir D] [--work-dir W] [--python P]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT.parent.parent / "shared" / "data" / "emodb"
DEFAULT_WORK = ROOT / "work" / "nkululeko"
DEFAULT_VENV_PYTHON = Path("/work/nkvenv/bin/python")
FEATURE_SETS = ("eGeMAPSv02", "ComParE_2016")

INI = """\
[EXP]
root = {root}/
name = {name}
runs = 1
epochs = 1
[DATA]
databases = ['emodb']
emodb = {csv}
emodb.type = csv
emodb.absolute_path = True
emodb.split_strategy = speakers_stated
emodb.test = [8, 12]
target = emotion
[FEATS]
type = ['os']
set = {feature_set}
scale = standard
[MODEL]
type = svm
logo = 10
[PLOT]
name = none
"""


def _imports_nkululeko(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import nkululeko"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_nkululeko_python() -> str | None:
    """The venv's python if it imports nkululeko, else $NKULULEKO_PYTHON, else None."""
    if DEFAULT_VENV_PYTHON.exists() and _imports_nkululeko(str(DEFAULT_VENV_PYTHON)):
        return str(DEFAULT_VENV_PYTHON)
    return os.environ.get("NKULULEKO_PYTHON") or None


def write_csv(data_dir: Path, out: Path) -> Path:
    """metadata.csv with relative paths -> nkululeko csv with absolute paths."""
    with (data_dir / "metadata.csv").open(newline="") as src:
        rows = list(csv.DictReader(src))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["file", "speaker", "gender", "emotion"])
    for r in rows:
        gender = {"m": "male", "f": "female"}.get(r["gender"], r["gender"])
        writer.writerow([(data_dir / r["file"]).resolve(), r["speaker"], gender, r["emotion"]])
    # rewrite only on change: a newer mtime makes nkululeko drop its cached split
    if not out.exists() or out.read_text() != buf.getvalue():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(buf.getvalue())
    return out


def _last_float(path: Path, pattern: str) -> float:
    found = re.findall(pattern, path.read_text())
    if not found:
        raise RuntimeError(f"no {pattern!r} in {path}")
    return float(found[-1])


def run_nkululeko(
    *, feature_set: str, data_dir: Path, work_dir: Path, python: str, fresh: bool
) -> dict[str, object]:
    """Run one nkululeko experiment; fresh=True drops its cached features first."""
    work_dir = work_dir.resolve()
    name = f"emodb_{feature_set}"
    exp_dir = work_dir / name
    if fresh:
        shutil.rmtree(exp_dir, ignore_errors=True)  # feature store, split, results
    else:
        shutil.rmtree(exp_dir / "results", ignore_errors=True)  # keep store/
    data_csv = write_csv(data_dir, work_dir / "emodb_abs.csv")
    ini = work_dir / f"{name}.ini"
    ini.write_text(INI.format(root=work_dir, name=name, csv=data_csv, feature_set=feature_set))
    log = work_dir / f"{name}_{'cold' if fresh else 'warm'}.log"
    start = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [python, "-m", "nkululeko.nkululeko", "--config", str(ini)],
            cwd=work_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"nkululeko failed ({done.returncode}), see {log}")
    results = exp_dir / "results"
    uar = _last_float(next(results.glob("*_runs.txt")), r"mean: ([0-9.]+)")
    if uar <= 0.0:  # nkululeko logs its errors and still writes 0.0
        raise RuntimeError(f"nkululeko reported UAR {uar}, see {log}")
    return {
        "uar": uar,
        "uar_fold_mean": _last_float(
            results / "run_0" / "logo_results.txt", r"LOGO: mean ([0-9.]+)"
        ),
        "seconds": round(seconds, 2),
        "feature_set": feature_set,
        "cold": fresh,
        "log": str(log),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--python", default=None)
    args = parser.parse_args()
    python = args.python or find_nkululeko_python()
    if python is None:
        print("nkululeko not found: make /work/nkvenv or set NKULULEKO_PYTHON")
        return 1
    report = {
        f"{fs}_{'cold' if fresh else 'warm'}": run_nkululeko(
            feature_set=fs,
            data_dir=args.data_dir,
            work_dir=args.work_dir,
            python=python,
            fresh=fresh,
        )
        for fs in FEATURE_SETS
        for fresh in (True, False)
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
