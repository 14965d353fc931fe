"""Run every reliability case through the command line and print the counts for RESULTS.md.

Usage (from the repository root)::

    python -m tests.reliability.table            # the counts table
    python -m tests.reliability.table --cases    # and one row per case
    python -m tests.reliability.table -k predict # only cases whose id holds "predict"
    python -m tests.reliability.table --json benchmarks/results/reliability.json

Exit status 1 when any case did not have its expected outcome.

Example:
    >>> from tests.reliability.case import Case
    >>> from tests.reliability.harness import Observation
    >>> rows = [(Case("a", "x", "error", (), None), Observation("error", "bad seed")),
    ...         (Case("b", "y", "skip", (), None), Observation("traceback", "..."))]
    >>> print(counts_table(count(rows)))
    | cases tried | clear errors | listed skips | refused | ok | silent changes | tracebacks | code executed | writes outside the run folder | other mismatches |
    |---|---|---|---|---|---|---|---|---|---|
    | 2 | 1 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 |
"""  # noqa: E501

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.reliability.case import Case
from tests.reliability.harness import Observation, Workspace

COLUMNS = {
    "cases tried": "tried",
    "clear errors": "error",
    "listed skips": "skip",
    "refused": "refused",
    "ok": "ok",
    "silent changes": "silent",
    "tracebacks": "traceback",
    "code executed": "unsafe",
    "writes outside the run folder": "outside",
    "other mismatches": "mismatch",
}


def count(rows: list[tuple[Case, Observation]]) -> dict[str, int]:
    """Tally the outcomes: a case with its expected outcome counts under that outcome; a
    silent change, traceback, code execution or write outside the run folder under its own
    column; anything else (an
    error without the file or key named, an error where a skip was due) as a mismatch."""
    totals = dict.fromkeys(COLUMNS.values(), 0)
    totals["tried"] = len(rows)
    for case, observation in rows:
        if observation.kind in ("silent", "traceback", "unsafe", "outside"):
            totals[observation.kind] += 1
        elif case.verdict(observation) is None:
            totals[case.expect] += 1
        else:
            totals["mismatch"] += 1
    return totals


def counts_table(totals: dict[str, int]) -> str:
    names = list(COLUMNS)
    return "\n".join([
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        "| " + " | ".join(str(totals[COLUMNS[name]]) for name in names) + " |",
    ])  # fmt: skip


def cases_table(rows: list[tuple[Case, Observation]]) -> str:
    lines = ["| case | what is broken | expected | observed | verdict |", "|---|---|---|---|---|"]
    for case, observation in rows:
        verdict = case.verdict(observation)
        shown = "pass" if verdict is None else verdict.splitlines()[0][:160].replace("|", "/")
        lines.append(f"| {case.id} | {case.broken.replace('|', '/')} | {case.expect} | "
                     f"{observation.kind} | {shown} |")  # fmt: skip
    return "\n".join(lines)


def run_cases(cases: list[Case], workspace: Workspace) -> list[tuple[Case, Observation]]:
    return [(case, case.observe(workspace)) for case in cases]


def main(argv: list[str] | None = None) -> int:
    from tests.reliability.cases import CASES

    parser = argparse.ArgumentParser(prog="python -m tests.reliability.table",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--cases", action="store_true", help="also print one row per case")
    parser.add_argument("-k", default="", help="only cases whose id contains this")
    parser.add_argument("--keep", help="build the workspace here (kept) instead of a temp dir")
    parser.add_argument("--json", help="also write the counts and every case's outcome here")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # tiny models: threads only add overhead
    selected = [case for case in CASES if args.k in case.id]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="emotransfer-reliability-") as temporary:
        root = Path(args.keep) if args.keep else Path(temporary)
        rows = run_cases(selected, Workspace(root))
    if args.cases:
        print(cases_table(rows), end="\n\n")
    print(counts_table(count(rows)))
    seconds = time.perf_counter() - began
    print(f"\n({seconds:.0f} s)", file=sys.stderr)
    if args.json:
        from emotransfer.io import write_json

        write_json(args.json, {
            "counts": {name: count(rows)[key] for name, key in COLUMNS.items()},
            "seconds": round(seconds, 1),
            "cases": [{"id": case.id, "broken": case.broken, "expected": case.expect,
                       "observed": observation.kind, "passed": case.verdict(observation) is None}
                      for case, observation in rows],
        })  # fmt: skip
    return 0 if all(case.verdict(observation) is None for case, observation in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
