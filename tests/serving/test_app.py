"""The HTTP service on a real uvicorn server: predictions, run pages, and a 4xx with a
message for every bad upload (the server keeps serving)."""

import contextlib
import io
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import soundfile
import uvicorn
from tests.inference.test_timeline import RATE, recording, tone_run  # noqa: F401 (fixture)

from emotransfer.inference import Predictor
from emotransfer.serving.app import create_app


@contextlib.contextmanager
def serve_in_thread(app):
    """``app`` on a real uvicorn server at a free port of 127.0.0.1, in a thread; yields its
    base URL and stops it after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    began = time.monotonic()
    while not running.started:
        assert time.monotonic() - began < 30, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tone_run):  # noqa: F811
    """The app on a real server; yields its base URL."""
    app = create_app([tone_run], max_upload_mb=0.5, max_seconds=4.0, max_long_seconds=20.0)
    with serve_in_thread(app) as url:
        yield url


def clip(tone, seconds=1.0, seed=0):
    rng = np.random.default_rng(seed)
    wave = 0.02 * rng.normal(size=int(seconds * RATE))
    if tone:
        wave += 0.3 * np.sin(2 * np.pi * 1000 * np.arange(len(wave)) / RATE)
    buffer = io.BytesIO()
    soundfile.write(buffer, wave, RATE, format="WAV")
    return buffer.getvalue()


def test_an_upload_gets_the_predictors_probabilities(server, tone_run, tmp_path):  # noqa: F811
    answers = [httpx.post(f"{server}/predict", files={"file": (f"{n}.wav", clip(n == "beep"))})
               for n in ("beep", "hush")]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200]
    beep, hush = (a.json() for a in answers)
    assert beep["predicted"] == "beep" and hush["predicted"] == "hush"
    assert beep["run"] == "tones" and beep["duration_s"] == 1.0
    assert sum(beep["probabilities"].values()) == pytest.approx(1.0)
    (tmp_path / "beep.wav").write_bytes(clip(True))
    direct = Predictor.from_run(tone_run).predict_file(tmp_path / "beep.wav")
    assert beep["probabilities"] == pytest.approx(direct, abs=1e-6)


def test_a_long_upload_gets_a_timeline_and_a_summary(server, tmp_path):
    path = recording(tmp_path / "long.wav")  # a tone from 4 to 6 s in 10 s
    with open(path, "rb") as handle:
        answer = httpx.post(f"{server}/predict/long?window=1&hop=0.5",
                            files={"file": ("long.wav", handle)})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    beeps = [row for row in body["segments"] if row["predicted"] == "beep"]
    assert beeps and min(r["start"] for r in beeps) >= 3.0 and max(r["end"] for r in beeps) <= 7
    assert body["summary"]["predicted"] == "hush" and body["summary"]["seconds"] > 10
    assert set(body["classes"]) == {"beep", "hush"}


def test_run_pages_list_metrics_config_and_a_report_without_scripts(server):
    runs = httpx.get(f"{server}/runs").json()
    assert [r["name"] for r in runs] == ["tones"] and 0 <= runs[0]["uar"] <= 1
    assert runs[0]["ci_low"] <= runs[0]["uar"] <= runs[0]["ci_high"]
    details = httpx.get(f"{server}/runs/tones").json()
    assert details["config"]["features"]["upstream"] == "logmel"
    assert set(details["metrics"]["per_class_recall"]) == {"beep", "hush"}
    report = httpx.get(f"{server}/runs/tones/report")
    assert report.status_code == 200 and "<html" in report.text.lower()
    assert "script-src" not in report.headers["content-security-policy"]
    assert report.headers["content-security-policy"].startswith("default-src 'none'")
    assert httpx.get(f"{server}/docs").status_code == 200
    assert "/predict/long" in httpx.get(f"{server}/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    "files, query, status, message",
    [
        ({"file": ("notes.wav", b"these bytes are not audio")}, "", 422, "notes.wav"),
        ({"file": ("empty.wav", b"")}, "", 400, "empty.wav: empty file"),
        ({"file": ("big.wav", b"\0" * 600_000)}, "", 413, "larger than 0.5 MB"),
        ({"file": ("long.wav", clip(False, seconds=5.0))}, "", 413, "5.0 s is longer than"),
        ({"upload": ("a.wav", clip(True))}, "", 422, "file"),
        ({"file": ("a.wav", clip(True))}, "?run=other", 404, "no run 'other'"),
        ({"file": ("short.wav", clip(True, seconds=0.01))}, "", 422, "short.wav"),
    ],
)  # fmt: skip
def test_every_bad_upload_gets_a_4xx_with_a_message(server, files, query, status, message):
    answer = httpx.post(f"{server}/predict{query}", files=files)
    assert answer.status_code == status
    assert message in answer.text
    assert httpx.post(f"{server}/predict", files={"file": ("ok.wav", clip(True))}).status_code \
        == 200  # fmt: skip


def test_two_runs_of_one_name_are_refused(tone_run):  # noqa: F811
    with pytest.raises(ValueError, match="share a folder name"):
        create_app([tone_run, tone_run])
