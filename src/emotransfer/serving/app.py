"""The HTTP service: trained runs behind FastAPI (``emotransfer serve RUN [RUN ...]``).

Every run's servable model is loaded once, when the app is made (a :class:`Predictor`
each); requests to one model are answered one at a time (a lock per run), so memory stays
flat under concurrent clients. Endpoints (OpenAPI docs at ``/docs``):

- ``GET /runs``: one row per run: name, classes, UAR with its interval, what it was trained on;
- ``GET /runs/{name}``: its metrics summary, per-class recall and config;
- ``GET /runs/{name}/report``: its HTML report, under a content security policy that lets no
  script run (a run folder is untrusted);
- ``POST /predict``: an uploaded clip (multipart field ``file``; ``run`` when several are
  served; ``text`` for a run with a text input): the predicted class, every probability and
  (a run with a dimensional head) the ``values`` of its dimensions;
- ``POST /predict/long``: a long recording: one row per window (``window``, ``hop``,
  ``smooth``) with start, end, class and probabilities, and the whole-file summary;
- ``GET /compare?a=NAME&b=NAME``: two runs on the same clips compared as ``emotransfer
  analyze compare`` does (paired UAR difference with its bootstrap interval, McNemar);
- ``GET /``: the web app (``static/``): the runs browser and the live page.

Every bad request is answered with a 4xx and a message naming the problem: an unknown run
(404), an empty upload (400), one over ``max_upload_mb`` (413) or over the duration limit
(413), bytes that are not audio or a clip too short (422), a missing field (422). Uploads are
decoded from a temporary file that is removed after the request; nothing in them runs code.
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from fastapi import FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from emotransfer.data.audio import AudioError, load_audio
from emotransfer.inference.predictor import Predictor
from emotransfer.inference.timeline import summary, timeline

# A report is our own HTML, but a run folder is untrusted: no script may run from it.
REPORT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STATIC = Path(__file__).resolve().parent / "static"


class ServedRun:
    """One run folder and its loaded model.

    Args:
        folder: the run folder (``predict`` must be able to serve it).
        plugins: ``module:Class`` components its ``model.json`` may name.
    """

    def __init__(self, folder: str | Path, *, plugins: tuple[str, ...] = ()) -> None:
        self.folder = Path(folder)
        self.name = self.folder.name
        self.predictor = Predictor.from_run(self.folder, plugins=plugins)
        self.lock = threading.Lock()
        metrics = self.folder / "metrics.json"
        self.metrics: dict[str, Any] = json.loads(metrics.read_text()) if metrics.is_file() else {}

    def row(self) -> dict[str, Any]:
        """The run's line in ``GET /runs``."""
        uar = self.metrics.get("summary", {}).get("uar", {})
        data = self.metrics.get("data", {})
        return {"name": self.name, "classes": list(self.predictor.classes),
                "uar": uar.get("value"), "ci_low": uar.get("ci_low"),
                "ci_high": uar.get("ci_high"), "corpora": data.get("corpora", []),
                "clips": data.get("n_files"), "created": self.metrics.get("created"),
                "inputs": ["audio", *self.predictor.inputs],
                "optional": list(getattr(self.predictor.scorer, "optional", ())),
                "dimensions": list(self.predictor.dimensions)}  # fmt: skip

    def details(self) -> dict[str, Any]:
        """``GET /runs/{name}``: the row, the metrics summary, per-class recall, the config."""
        config = self.folder / "config.yaml"
        settings = yaml.safe_load(config.read_text()) if config.is_file() else None
        keep = ("summary", "per_class_recall", "confusion_matrix", "features", "labels")
        return {**self.row(), "metrics": {k: self.metrics[k] for k in keep if k in self.metrics},
                "config": settings}  # fmt: skip


def create_app(
    runs: list[str | Path], *, max_upload_mb: float = 20.0, max_seconds: float = 60.0,
    max_long_seconds: float = 3600.0, plugins: tuple[str, ...] = (),
) -> FastAPI:  # fmt: skip
    """The FastAPI app serving ``runs`` (folders; their names must differ).

    Args:
        max_upload_mb: the largest upload accepted.
        max_seconds: the longest clip ``/predict`` takes (longer: ``/predict/long``).
        max_long_seconds: the longest recording ``/predict/long`` takes.

    Raises:
        ValueError: no runs, or two runs of one name.
    """
    if not runs:
        raise ValueError("serve: give at least one run folder")
    served = [ServedRun(folder, plugins=plugins) for folder in runs]
    names = [run.name for run in served]
    if len(set(names)) != len(names):
        raise ValueError(f"serve: two runs share a folder name ({names}); rename one")
    by_name = {run.name: run for run in served}
    app = FastAPI(title="emotransfer", version="1", description="Emotion recognition by "
                  "trained emotransfer runs: upload audio, get class probabilities.")  # fmt: skip
    app.state.runs = by_name
    limit = int(max_upload_mb * 1024 * 1024)

    def pick(name: str | None) -> ServedRun:
        if name is None:
            if len(served) > 1:
                raise HTTPException(422, f"several runs are served: give run= one of {names}")
            return served[0]
        if name not in by_name:
            raise HTTPException(404, f"no run {name!r}; served: {names}")
        return by_name[name]

    def decode(upload: UploadFile, run: ServedRun, longest: float) -> np.ndarray:
        data = upload.file.read(limit + 1)
        if not data:
            raise HTTPException(400, f"{upload.filename or 'the upload'}: empty file")
        if len(data) > limit:
            raise HTTPException(413, f"{upload.filename}: larger than {max_upload_mb:g} MB")
        suffix = Path(upload.filename or "clip").suffix[:8]
        predictor = run.predictor
        with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
            handle.write(data)
            handle.flush()
            try:
                wave = load_audio(handle.name, sample_rate=predictor.sample_rate,
                                  min_duration=predictor.min_duration,
                                  max_duration=float("inf"))  # fmt: skip
            except AudioError as error:
                message = str(error).replace(handle.name, upload.filename or "the upload")
                raise HTTPException(422, message) from None
        seconds = len(wave) / predictor.sample_rate
        if seconds > longest:
            more = " (longer recordings: POST /predict/long)" if longest == max_seconds else ""
            raise HTTPException(413, f"{upload.filename}: {seconds:.1f} s is longer than the "
                                     f"{longest:g} s this endpoint takes{more}")  # fmt: skip
        return wave

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/static/index.html")

    @app.get("/compare")
    def compare_runs(
        a: Annotated[str, Query(description="the reference run")],
        b: Annotated[str, Query(description="the run compared with it")],
        unit: Annotated[str, Query(pattern="^(clip|speaker)$")] = "speaker",
        bootstrap: Annotated[int, Query(ge=100, le=5000)] = 1000,
    ) -> dict[str, Any]:
        """Paired comparison of two runs on the same clips (b minus a)."""
        from emotransfer.analysis.compare import compare

        first, second = pick(a), pick(b)
        try:
            report = compare([first.folder, second.folder], names=[a, b], unit=unit,
                             bootstrap=bootstrap, seed=0)  # fmt: skip
        except (ValueError, FileNotFoundError) as error:
            raise HTTPException(422, f"compare {a} with {b}: {error}") from None
        return {"clips": report["clips"], "unit": unit, "systems": report["systems"],
                **report["pairs"][0]}  # fmt: skip

    @app.get("/runs")
    def list_runs() -> list[dict[str, Any]]:
        """Every served run with its UAR and interval."""
        return [run.row() for run in served]

    @app.get("/runs/{name}")
    def run_details(name: str) -> dict[str, Any]:
        """One run's metrics summary, per-class results and config."""
        return pick(name).details()

    @app.get("/runs/{name}/report", response_class=HTMLResponse)
    def run_report(name: str) -> HTMLResponse:
        """The run's HTML report (no script runs in it)."""
        path = pick(name).folder / "report.html"
        if not path.is_file():
            raise HTTPException(404, f"run {name!r} has no report.html")
        return HTMLResponse(path.read_text(), headers={"Content-Security-Policy": REPORT_POLICY})

    @app.post("/predict")
    def predict(
        file: Annotated[UploadFile, File(description="an audio file (wav, flac, ogg, mp3)")],
        run: Annotated[str | None, Query(description="the run's name (several served)")] = None,
        text: Annotated[str | None, Form(description="the clip's transcript (text runs)")] = None,
    ) -> dict[str, Any]:
        """Class probabilities for one clip (and, for a run with a dimensional head, its
        ``values``: arousal, valence, dominance)."""
        chosen = pick(run)
        wave = decode(file, chosen, max_seconds)
        inputs = {"text": [text]} if text is not None else None
        predictor = chosen.predictor
        with chosen.lock:
            try:
                scores = predictor.predict_signals([wave], inputs, values=True)[0]
            except ValueError as error:
                raise HTTPException(422, str(error)) from None
        probabilities = {name: scores[name] for name in predictor.classes}
        values = {name: scores[name] for name in predictor.dimensions}
        return {"run": chosen.name, "file": file.filename,
                "duration_s": round(len(wave) / predictor.sample_rate, 3),
                "predicted": max(probabilities, key=probabilities.get),
                "probabilities": probabilities,
                **({"values": values} if values else {})}  # fmt: skip

    @app.post("/predict/long")
    def predict_long(
        file: Annotated[UploadFile, File(description="an audio recording of any length")],
        run: Annotated[str | None, Query(description="the run's name (several served)")] = None,
        window: Annotated[float, Query(gt=0, le=60, description="window, seconds")] = 2.0,
        hop: Annotated[float, Query(gt=0, le=60, description="hop, seconds")] = 1.0,
        smooth: Annotated[int, Query(ge=1, le=31, description="windows averaged (odd)")] = 1,
    ) -> dict[str, Any]:
        """Probabilities over time: one row per window, and the whole-file summary."""
        chosen = pick(run)
        wave = decode(file, chosen, max_long_seconds)
        with chosen.lock:
            try:
                table = timeline(chosen.predictor, wave, window_s=window, hop_s=hop,
                                 smooth=smooth)  # fmt: skip
            except ValueError as error:
                raise HTTPException(422, str(error)) from None
        return {"run": chosen.name, "file": file.filename,
                "duration_s": round(len(wave) / chosen.predictor.sample_rate, 3),
                "classes": list(chosen.predictor.classes),
                "segments": table.to_dict("records"), "summary": summary(table)}  # fmt: skip

    return app


def serve(
    runs: list[str], *, host: str = "127.0.0.1", port: int = 8000, **limits: Any
) -> None:  # fmt: skip
    """Load ``runs`` and answer HTTP on ``host:port`` until stopped (uvicorn, one process)."""
    import uvicorn

    uvicorn.run(create_app(runs, **limits), host=host, port=port, log_level="info")
