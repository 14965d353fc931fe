"""One row of the reliability table: a broken input, the outcome it must have, how to try it.

Example:
    >>> from tests.reliability.harness import Observation
    >>> row = Case("demo", "nothing", "error", ("seed",), lambda workspace, case_id: None)
    >>> row.verdict(Observation("error", "seed: must be >= 0"))
    >>> row.verdict(Observation("error", "something else"))
    "error without ['seed'] in: something else"
    >>> row.verdict(Observation("silent", "exit 0"))
    'expected error, saw silent: exit 0'
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

from tests.reliability.harness import Observation, Workspace

EXPECTED = ("error", "skip", "refused", "ok")
Attempt = Callable[[Workspace, str], Observation]


@dataclass(frozen=True)
class Case:
    """A case of the bad-input corpus.

    Args:
        id: short unique name (the test id and the table row).
        broken: what is broken, in words.
        expect: the outcome it must have, one of :data:`EXPECTED`.
        needles: substrings the observation's text must hold (the error names the file, key
            or row; the skip lists the file and its problem).
        attempt: builds the input in the workspace and drives the command line.
    """

    id: str
    broken: str
    expect: str
    needles: tuple[str, ...]
    attempt: Attempt

    def __post_init__(self) -> None:
        if self.expect not in EXPECTED:
            raise ValueError(f"case {self.id}: expect {self.expect!r}; known: {EXPECTED}")

    def observe(self, workspace: Workspace) -> Observation:
        """Try the case; an exception out of the attempt itself counts as a traceback."""
        try:
            return self.attempt(workspace, self.id)
        except Exception:
            return Observation("traceback", traceback.format_exc())

    def verdict(self, observation: Observation) -> str | None:
        """``None`` when the outcome is the expected one, else why not."""
        shown = observation.text.strip()[-2000:]
        if observation.kind != self.expect:
            return f"expected {self.expect}, saw {observation.kind}: {shown}"
        missing = [needle for needle in self.needles if needle not in observation.text]
        if missing:
            return f"{self.expect} without {missing} in: {shown}"
        return None


class Registry:
    """Collects cases in definition order; ``@cases.add(...)`` decorates an attempt."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def add(self, id: str, broken: str, expect: str, *needles: str) -> Callable[[Attempt], Attempt]:
        def register(attempt: Attempt) -> Attempt:
            if any(case.id == id for case in self.cases):
                raise ValueError(f"case id {id!r} is used twice")
            self.cases.append(Case(id, broken, expect, needles, attempt))
            return attempt

        return register
