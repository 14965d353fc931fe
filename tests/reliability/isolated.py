"""Run reliability cases one process each, with a time and memory bound, so that a case that
hangs or exhausts memory (an alias bomb on code without YAML limits) is recorded as such
instead of stopping the table. Used to measure an older commit against today's cases.

Usage (from the repository root; the emotransfer imported is whatever ``PYTHONPATH`` finds
first, e.g. a worktree of an older commit's ``src``)::

    python -m tests.reliability.isolated --json before.json -k lock -k yaml

Example:
    >>> outcome("no-such-case", Path("/tmp"), seconds=30)["observed"]
    'crashed (exit 1)'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ONE_CASE = """
import json, resource, sys
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
from tests.reliability.cases import CASES
from tests.reliability.harness import Workspace
case = next(c for c in CASES if c.id == sys.argv[1])
seen = case.observe(Workspace(Path(sys.argv[2])))
print(json.dumps({{"observed": seen.kind, "passed": case.verdict(seen) is None,
                  "text": seen.text.strip()[-300:]}}))
"""


def outcome(case_id: str, root: Path, *, seconds: float, memory: int = 4 << 30) -> dict[str, Any]:
    """The observation of one case in a fresh process (workspace ``root``, shared)."""
    script = ONE_CASE.format(memory=memory)
    try:
        done = subprocess.run([sys.executable, "-c", script, case_id, str(root)],
                              capture_output=True, text=True, timeout=seconds)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"id": case_id, "observed": f"hung (killed after {seconds:.0f} s)",
                "passed": False, "text": ""}  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"id": case_id, "observed": f"crashed (exit {done.returncode})", "passed": False,
                "text": done.stderr.strip()[-300:]}  # fmt: skip
    return {"id": case_id, **json.loads(lines[-1])}


def main(argv: list[str] | None = None) -> int:
    from tests.reliability.cases import CASES

    parser = argparse.ArgumentParser(prog="python -m tests.reliability.isolated",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("-k", action="append", default=[], help="ids containing this (any)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time bound per case")
    parser.add_argument("--json", help="write every outcome here")
    args = parser.parse_args(argv)
    chosen = [case.id for case in CASES if not args.k or any(k in case.id for k in args.k)]
    with tempfile.TemporaryDirectory(prefix="emotransfer-isolated-") as temporary:
        rows = []
        for case_id in chosen:
            rows.append(outcome(case_id, Path(temporary), seconds=args.seconds))
            print(f"{case_id}: {rows[-1]['observed']}", "pass" if rows[-1]["passed"] else "",
                  flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(row["passed"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
