"""Tests for emotransfer.reporting.html: a report built from a synthetic run folder."""

import json
import re

import pandas as pd
import pytest

from emotransfer.reporting.html import write_figures, write_report

CLASSES = ["anger", "neutral", "sadness"]
SPEAKERS = ["03", "08", "09"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ["confusion_matrix.png", "per_class_recall.png", "folds.png"]


def estimate(value):
    return {"value": value, "ci_low": value - 0.04, "ci_high": value + 0.04}


def make_metrics():
    return {
        "experiment": "emodb_compare_svm",
        "created": "2026-11-22T10:00:00",
        "seed": 0,
        "classes": CLASSES,
        "summary": {"uar": estimate(0.8125), "wa": estimate(0.82), "macro_f1": estimate(0.79)},
        "per_class_recall": {name: estimate(0.7 + 0.1 * i) for i, name in enumerate(CLASSES)},
        "confusion_matrix": [[8, 1, 1], [1, 9, 0], [0, 0, 0]],
        "folds": [
            {"fold": f"speaker={speaker}", "held_out": [speaker], "n_train": 20, "n_test": 10,
             "uar": 0.7 + 0.05 * i, "wa": 0.75, "best_params": {"C": 0.01 * (i + 1)}}
            for i, speaker in enumerate(SPEAKERS)
        ],
        "audit": {"split": "loso", "speaker_overlap": [], "leakage_allowed": False, "ok": True,
                  "note": "no speaker in both train and test in any fold"},
        "labels": {"classes": {"anger": 10, "neutral": 10, "sadness": 10}, "rows_before": 32,
                   "rows_after": 30, "spec": {"classes": CLASSES, "other": "drop"}},
        "data": {"corpora": ["emodb"], "n_files": 31, "n_speakers": 3,
                 "skipped_files": [{"file": "03a01Wa.wav", "problem": "too short & silent"}]},
        "features": {"upstream": "compare", "dim": 6373, "normalization": "speaker",
                     "cache_hits": 30, "cache_misses": 0},
        "head": {"name": "svm", "grid": {"C": [0.01, 0.02, 0.03]},
                 "inner_cv": "leave-one-speaker-out"},
        "timing": {"total_s": 12.3, "features_s": 10.1, "training_s": 2.0},
        "dimensional": {"arousal": {"ccc": estimate(0.654)}},
    }  # fmt: skip


def write_run(run_dir, metrics):
    run_dir.mkdir(exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "config.yaml").write_text("experiment: emodb_compare_svm\nhead:\n  name: svm\n")
    (run_dir / "versions.json").write_text(json.dumps({"numpy": "2.1.0", "emotransfer": "0.1.0"}))
    rows = [
        {"file": f"{speaker}a0{n}.wav", "start": 0.0, "end": 1.5, "corpus": "emodb",
         "speaker": speaker, "fold": f"speaker={speaker}", "true": true, "predicted": true,
         **{f"prob_{name}": float(name == true) for name in CLASSES}}
        for speaker in SPEAKERS
        for n, true in enumerate(CLASSES)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(run_dir / "predictions.csv", index=False)
    return run_dir


@pytest.fixture
def run_dir(tmp_path):
    return write_run(tmp_path / "run", make_metrics())


def test_report_shows_headline_folds_and_figures(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")
    assert '<div class="value">0.812</div>' in page
    assert "95% CI [0.772, 0.853]" in page
    for speaker in SPEAKERS:
        assert f"<td>{speaker}</td>" in page
    assert page.count('<img src="data:image/png;base64,') == 3
    assert "C=0.02" in page
    assert "too short &amp; silent" in page
    assert "0.654" in page
    assert "numpy" in page and "2.1.0" in page
    assert '<div class="audit ok">' in page
    assert "WARNING" not in page


def test_report_is_self_contained(run_dir):
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()


def test_report_escapes_strings_from_the_run(tmp_path):
    metrics = make_metrics()
    metrics["experiment"] = "<script>alert('x')</script>"
    metrics["folds"][0]["held_out"] = ["<b>03</b>"]
    page = write_report(write_run(tmp_path / "run", metrics)).read_text(encoding="utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;03&lt;/b&gt;" in page


@pytest.mark.parametrize(
    "audit",
    [
        {"split": "predefined", "speaker_overlap": ["03"], "leakage_allowed": False, "ok": False},
        {"split": "random", "speaker_overlap": ["03"], "leakage_allowed": True, "ok": True},
    ],
)
def test_report_warns_about_leakage(tmp_path, audit):
    metrics = make_metrics()
    metrics["audit"] = audit
    page = write_report(write_run(tmp_path / "run", metrics)).read_text(encoding="utf-8")
    assert '<div class="audit leak">' in page
    assert "WARNING" in page
    assert '<div class="audit ok">' not in page


def test_figures_are_valid_pngs(run_dir):
    paths = write_figures(run_dir)
    assert [path.name for path in paths] == FIGURES
    for name in FIGURES:
        assert (run_dir / name).read_bytes()[:8] == PNG_MAGIC
    assert not list(run_dir.glob("*.tmp"))


def test_confusion_matrix_rebuilt_from_predictions(tmp_path):
    metrics = make_metrics()
    del metrics["confusion_matrix"]
    paths = write_figures(write_run(tmp_path / "run", metrics))
    assert paths[0].name == "confusion_matrix.png"


def test_minimal_run_folder_does_not_crash(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"experiment": "bare"}))
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "<h1>bare</h1>" in page
    assert '<div class="audit unknown">' in page
    assert "Dimensional" not in page
    assert write_figures(tmp_path) == []


def test_missing_run_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "absent")


def test_a_trained_run_shows_its_training_curves_and_ignores_bad_histories(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.json").write_text(json.dumps({"experiment": "trained"}))
    epochs = [{"epoch": e, "loss": 1.0 / e, "valid_uar": 0.5 + 0.1 * e, "seconds": 2.0}
              for e in (1, 2, 3)]  # fmt: skip
    bad = [{"epoch": 1, "loss": "print('x')"}]
    for fold, records in [("speaker=03", epochs), ("speaker=08", epochs[:2]), ("bad", bad),
                          ("empty", [])]:  # fmt: skip
        (run_dir / "models" / fold).mkdir(parents=True)
        (run_dir / "models" / fold / "history.json").write_text(json.dumps(records))
    (run_dir / "models" / "broken").mkdir()
    (run_dir / "models" / "broken" / "history.json").write_text("{not json")
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "Training curves (loss and validation UAR per epoch, per fold)" in page
    assert (run_dir / "training_curves.png").read_bytes()[:8] == PNG_MAGIC
    from emotransfer.reporting.curves import fold_histories

    assert sorted(fold_histories(run_dir)) == ["speaker=03", "speaker=08"]  # the bad left out
