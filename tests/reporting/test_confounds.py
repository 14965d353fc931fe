"""The confound audit in the run report (emotransfer.reporting.confounds)."""

import json

import pandas as pd

from emotransfer.data.confounds import confound_audit
from emotransfer.reporting.html import write_report


def test_the_report_shows_the_confound_audit_and_its_heat_map(tmp_path):
    table = pd.DataFrame({"corpus": "c", "file": [f"{i}.wav" for i in range(8)],
                          "speaker": list("aabbccdd"),
                          "emotion": ["anger"] * 4 + ["joy"] * 4})  # fmt: skip
    metrics = {"confounds": confound_audit(table), "features": {"normalization_chosen": {
        "requested": "auto", "chosen": "global", "reason": "auto: 4 of 4 speakers"}}}  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    page = write_report(tmp_path).read_text()
    assert "Confound audit" in page and "WARNING: labels follow the speakers" in page
    assert "4 of 4 speakers (100 %" in page and "<strong>global</strong>" in page
    assert (tmp_path / "speaker_labels.png").is_file() and "Clips per speaker and label" in page
