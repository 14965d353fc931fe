"""Every case of the bad-input corpus, in table order (see :mod:`tests.reliability.case`).

Example:
    >>> len({case.id for case in CASES}) == len(CASES) > 100
    True
"""

from __future__ import annotations

from tests.reliability import (
    audio_cases,
    cache_cases,
    config_cases,
    filesystem_cases,
    format_cases,
    manifest_cases,
    predict_cases,
    run_folder_cases,
)
from tests.reliability.case import Case

GROUPS = (config_cases, audio_cases, cache_cases, manifest_cases, run_folder_cases,
          predict_cases, format_cases, filesystem_cases)  # fmt: skip
CASES: list[Case] = [case for group in GROUPS for case in group.cases.cases]
