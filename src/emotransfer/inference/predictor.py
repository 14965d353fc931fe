"""One Predictor for every run: decoding with the run's limits, per-file problems, and the
fold scorer of the run's kind (built once, reused for every call).

Usage::

    predictor = Predictor.from_run("runs/emodb_lora")
    predictor.predict_file("clip.wav")        # {"anger": 0.81, "boredom": 0.02, ...}
    results, problems = predictor.predict_paths(["a.wav", "broken.wav"])  # [{...}, None]
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emotransfer.data.audio import AudioError, load_audio
from emotransfer.features.transcripts import Transcriber
from emotransfer.inference.loading import frozen_scorer, trained_scorer
from emotransfer.model_spec import SPEC, FrozenSpec, read_model_spec
from emotransfer.run_files import verify_model_files


class Predictor:
    """Averaged probabilities of the fold models of one run.

    Args:
        scorer: ``scores(waves) -> (N, C)`` and ``speaker_norm`` (see
            :mod:`emotransfer.inference.scorers`).
        classes: class names in output order.
        sample_rate: rate audio is resampled to.
        min_duration, max_duration: accepted clip length in seconds (the run's).
        transcriber: makes the text of clips given without one, for a run with a text input
            trained on ASR transcripts (a
            :class:`~emotransfer.features.transcripts.Transcriber`); ``None``: text must be
            given.
    """

    def __init__(
        self, *, scorer: Any, classes: list[str], sample_rate: int, min_duration: float = 0.1,
        max_duration: float = 600.0, transcriber: Any = None,
    ) -> None:  # fmt: skip
        self.scorer = scorer
        self.classes = classes
        self.sample_rate = sample_rate
        self.min_duration = min_duration
        self.max_duration = max_duration
        self.transcriber = transcriber

    @classmethod
    def from_run(
        cls, run_dir: str | Path, *, plugins: Collection[str] = (),
        trust_remote_code: bool = False, folds: bool = False, backend: str = "torch",
    ) -> Predictor:  # fmt: skip
        """Load the servable model of a run folder: its refit model (a frozen-feature run's
        head, a trained run's model, fitted on all its clips) where the run made one, else
        every fold model.

        Args:
            run_dir: the run folder (untrusted: see :mod:`emotransfer.inference.loading`).
            plugins: ``module:Class`` components that ``model.json`` may name.
            trust_remote_code: let the encoder run a hub model's own code.
            folds: use the fold ensemble (the models the metrics come from) even where a
                refit head exists.
            backend: ``torch``, or ``onnx``: the run's ONNX export (``emotransfer export``) in
                onnxruntime, each clip on its own (see
                :mod:`emotransfer.inference.onnx_export`).

        Raises:
            FileNotFoundError: the folder has no ``model.json`` or no trained fold weights.
            RunFolderError: a model file changed since the run (``files.json``), or
                ``model.json`` or a weight file is malformed or names a refused component.
        """
        folder = Path(run_dir)
        if not (folder / SPEC).is_file():
            raise FileNotFoundError(f"{folder}: no {SPEC}; Predictor loads trained run folders")
        verify_model_files(folder)
        spec = read_model_spec(folder, plugins=plugins, trust_remote_code=trust_remote_code)
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend {backend!r}: use torch or onnx")
        if backend == "onnx":
            from emotransfer.inference.onnx_export import onnx_scorer

            scorer: Any = onnx_scorer(folder, spec, plugins=plugins,
                                      trust_remote_code=trust_remote_code)  # fmt: skip
        elif isinstance(spec, FrozenSpec):
            scorer = frozen_scorer(folder, spec, plugins=plugins, folds=folds)
        else:
            scorer = trained_scorer(folder, spec, plugins=plugins, folds=folds)
        audio = spec.audio
        asr = None if isinstance(spec, FrozenSpec) or backend == "onnx" else spec.asr
        transcriber = None if asr is None else Transcriber(**asr)
        return cls(scorer=scorer, classes=spec.classes, sample_rate=audio["sample_rate"],
                   min_duration=audio["min_duration"], max_duration=audio["max_duration"],
                   transcriber=transcriber)  # fmt: skip

    @property
    def upstream(self) -> Any:
        """The frozen upstream of a frozen-feature run (``None`` for a trained run)."""
        encoder = getattr(self.scorer, "encoder", None)
        return None if encoder is None else encoder.upstream

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions the run also predicts (arousal, valence, dominance: a frozen run's
        multitask head), given by ``predict_signals(..., values=True)``; else none."""
        return tuple(getattr(self.scorer, "dimensions", ()))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The inputs the run's model takes besides audio (e.g. ``("text",)``)."""
        return tuple(getattr(self.scorer, "inputs", ()))

    @property
    def clip_independent(self) -> bool:
        """Whether a clip of no declared speaker gets the same probabilities whatever else is
        in the call: a run without per-speaker normalisation, or one that saved its average
        training speaker."""
        return not self.scorer.speaker_norm or self.scorer.keeps_average_speaker

    def predict_signals(
        self, waves: list[np.ndarray], inputs: dict[str, list] | None = None, *,
        speakers: list[str] | None = None, enrolled: tuple[np.ndarray, np.ndarray] | None = None,
        values: bool = False,
    ) -> list[dict[str, float]]:  # fmt: skip
        """Probabilities for mono waveforms at ``sample_rate``: the mean over the folds
        (``values``: each dict also holds the run's :attr:`dimensions`, after the classes).
        ``inputs``: a model of several inputs takes one item per clip of each (``{"text":
        [...]}``). A speaker-normalised run standardises the clips of each declared speaker
        (``speakers``, one per clip) by that speaker's own statistics; clips of no declared
        speaker each by the average training speaker's (see :attr:`clip_independent`), or,
        for a run that kept none (a trained model), all of the call as one speaker.
        ``enrolled``: every clip is of one enrolled speaker, standardised with that speaker's
        saved statistics (:mod:`emotransfer.inference.enrolment`), each on its own.

        Raises:
            ValueError: a declared speaker with a single clip, or a single clip of a run that
                needs one speaker's several; inputs missing, unknown or of another count.
        """
        waves = [np.asarray(w, dtype=np.float32) for w in waves]
        if self.transcriber is not None and "text" not in (inputs or {}):
            inputs = {**(inputs or {}), "text": self.transcripts(waves)}
        groups = None
        if enrolled is not None:
            if speakers is not None:
                raise ValueError("give speakers= or enrolled=, not both")
            totals = self.scorer.scores(waves, inputs or None, None, enrolled)
            return self._rows(totals, values)
        if self.scorer.speaker_norm and speakers is not None:
            if len(speakers) != len(waves):
                raise ValueError(f"{len(speakers)} speakers for {len(waves)} clips")
            names, counts = np.unique(np.asarray(speakers, dtype=str), return_counts=True)
            if (counts < 2).any():
                raise ValueError(f"speaker {str(names[counts < 2][0])!r} has one clip: a speaker's "
                                 "own statistics need several (declare none to use the "
                                 "training speakers' average)")  # fmt: skip
            groups = np.asarray(speakers, dtype=str)
        elif self.scorer.speaker_norm and not self.clip_independent and len(waves) < 2:
            raise ValueError(
                "this run normalises per speaker: give several clips of the same speaker "
                "together (predict_files), not a single clip"
            )
        totals = self.scorer.scores(waves, inputs or None, groups)
        return self._rows(totals, values)

    def _rows(self, totals: np.ndarray, values: bool) -> list[dict[str, float]]:
        """Per clip, class -> probability (and with ``values``, dimension -> value): the
        scorer's columns are the classes, then the dimensions."""
        names = [*self.classes, *(self.dimensions if values else ())]
        return [dict(zip(names, row[: len(names)].tolist())) for row in totals]

    def transcripts(self, waves: list[np.ndarray]) -> list[str]:
        """What the run's ASR hears in each wave (at ``sample_rate``).

        Raises:
            ValueError: the run was not trained on ASR transcripts.
        """
        if self.transcriber is None:
            raise ValueError("this run's text was given, not made by ASR: give the text")
        if self.sample_rate != 16000:
            import soxr

            waves = [soxr.resample(w, self.sample_rate, 16000) for w in waves]
        return [self.transcriber.transcribe(w).text for w in waves]

    def predict_signal(self, wave: np.ndarray, **inputs: Any) -> dict[str, float]:
        """Probabilities for one mono waveform at ``sample_rate`` (and its ``text=...``)."""
        return self.predict_signals([wave], {k: [v] for k, v in inputs.items()} or None)[0]

    def load(self, path: str | Path) -> np.ndarray:
        """Decode a file (any rate or channel count) with the run's audio limits.

        Raises:
            AudioError: unreadable, too short, too long, silent, ... (names the file).
        """
        return load_audio(path, sample_rate=self.sample_rate, min_duration=self.min_duration,
                          max_duration=self.max_duration)  # fmt: skip

    def predict_files(
        self, paths: list[str | Path], inputs: dict[str, list] | None = None, *,
        speakers: list[str] | None = None, enrolled: tuple[np.ndarray, np.ndarray] | None = None,
        values: bool = False,
    ) -> list[dict[str, float]]:  # fmt: skip
        """Probabilities for audio files, given together (raises on the first bad file);
        ``inputs``, ``speakers``, ``enrolled`` and ``values`` as in :meth:`predict_signals`."""
        return self.predict_signals([self.load(p) for p in paths], inputs, speakers=speakers,
                                    enrolled=enrolled, values=values)  # fmt: skip

    def predict_long(
        self, path: str | Path, *, window_s: float = 2.0, hop_s: float = 1.0,
        vad: bool | str = False, smooth: int = 1,
    ) -> pd.DataFrame:  # fmt: skip
        """Probabilities over time for a recording of any length (the run's maximum clip
        duration does not apply): one row per window (with ``vad``, ``"webrtc"``/``True`` or
        ``"silero"``, of the voiced stretches only; ``smooth``: windows averaged), see
        :func:`emotransfer.inference.timeline.timeline`. All windows are one speaker."""
        from emotransfer.inference.timeline import timeline

        wave = load_audio(path, sample_rate=self.sample_rate, min_duration=self.min_duration,
                          max_duration=float("inf"))  # fmt: skip
        return timeline(self, wave, window_s=window_s, hop_s=hop_s, vad=vad, smooth=smooth)

    def predict_file(self, path: str | Path, **inputs: Any) -> dict[str, float]:
        """Probabilities for an audio file (any rate or channel count), with its items of
        the run's other inputs (``text="..."``)."""
        return self.predict_files([path], {k: [v] for k, v in inputs.items()} or None)[0]

    def predict_paths(
        self, paths: list[str | Path], inputs: dict[str, list] | None = None, *,
        speakers: list[str] | None = None, enrolled: tuple[np.ndarray, np.ndarray] | None = None,
        values: bool = False,
    ) -> tuple[list[dict[str, float] | None], list[dict[str, str]]]:  # fmt: skip
        """Decode every file first, then predict the good ones together (with their items of
        ``inputs`` and their ``speakers``, one per path, or ``enrolled``, and ``values``, as
        in :meth:`predict_signals`).

        Returns:
            ``results``: per path, in order, its probabilities (``None`` for a file that
            could not be used), and ``problems``: one ``{"file", "problem"}`` per such file.

        Raises:
            ValueError: an input has another count than ``paths``.
        """
        inputs = inputs or {}
        for name, items in inputs.items():
            if len(items) != len(paths):
                raise ValueError(f"{len(items)} {name} items for {len(paths)} files: give one "
                                 "per file, in the same order")  # fmt: skip
        waves, rows, problems = [], [], []
        for row, path in enumerate(paths):
            try:
                waves.append(self.load(path))
                rows.append(row)
            except AudioError as error:
                problems.append({"file": str(path), "problem": error.problem})
        results: list[dict[str, float] | None] = [None] * len(paths)
        if waves:
            kept = {name: [items[row] for row in rows] for name, items in inputs.items()}
            declared = None if speakers is None else [speakers[row] for row in rows]
            found = self.predict_signals(waves, kept or None, speakers=declared,
                                         enrolled=enrolled, values=values)  # fmt: skip
            for row, result in zip(rows, found):
                results[row] = result
        return results, problems
