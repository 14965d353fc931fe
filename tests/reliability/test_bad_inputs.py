"""Every case of the bad-input corpus through the real command line: each must have its exact
outcome (a clear error naming the file, key or row; a listed skip; a refusal; the clean
result), and the suite as a whole sees no traceback, no silent change, no code run and no
write outside the run folder."""

from __future__ import annotations

import pytest
from tests.reliability.cases import CASES
from tests.reliability.harness import Observation, Workspace
from tests.reliability.table import count, counts_table

SEEN: dict[str, Observation] = {}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("reliability"))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case_has_its_outcome(case, workspace):
    observation = SEEN[case.id] = case.observe(workspace)
    verdict = case.verdict(observation)
    assert verdict is None, f"{case.id} ({case.broken}): {verdict}"


def test_no_traceback_no_silent_change_no_code_run_no_outside_write(workspace):
    """The totals over the cases this session ran (run last: it reads what they saw)."""
    rows = [(case, SEEN[case.id]) for case in CASES if case.id in SEEN]
    if not rows:
        pytest.skip("no case ran in this process")
    totals = count(rows)
    print("\n" + counts_table(totals))
    found = (totals["traceback"], totals["silent"], totals["unsafe"], totals["outside"])
    assert found == (0, 0, 0, 0), counts_table(totals)


def test_the_remote_code_detector_sees_code_run(workspace, tmp_path, monkeypatch):
    """The trust_remote_code cases are only meaningful if their model folder does run code
    when transformers is told to trust it."""
    import transformers
    import transformers.dynamic_module_utils as dynamic

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "modules"))  # not ~/.cache
    from tests.reliability.predict_cases import remote_code_model

    marker = tmp_path / "marker"
    model = remote_code_model(workspace, tmp_path / "model", marker)
    transformers.AutoConfig.from_pretrained(str(model), trust_remote_code=False)
    assert not marker.exists()
    transformers.AutoConfig.from_pretrained(str(model), trust_remote_code=True)
    assert marker.read_text() == "remote code ran"
