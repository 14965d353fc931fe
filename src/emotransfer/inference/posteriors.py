"""A trained run as an upstream: its class probabilities over windows of the clip, as frames.

With a nonverbal-vocalisation run (16 classes: laughing, crying, sighing ...), every clip gets
the posterior of each vocalisation per window, and a speech-emotion run can fuse them with
its own features (``features.upstream: stack``, see :mod:`emotransfer.features.stack`), so a
clip with a laugh or a sob is read with that cue (Hsu et al., "Speech emotion recognition
considering nonverbal vocalization in affective conversations", 2021). Any run works: its
Predictor scores windows of ``window_s`` every ``hop_s``
(:func:`emotransfer.inference.timeline.timeline`), all windows of one clip together.

The run folder is checked as the Predictor checks it (digests, no code); the cache identity
holds the digest of its ``files.json``, so another model gives other features.

Shapes: ``extract(wave)`` -> ``(1, T, C)``: one hidden state, ``T`` windows, ``C`` classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emotransfer.inference.predictor import Predictor
from emotransfer.inference.timeline import timeline
from emotransfer.run_files import FILES, file_digest


class RunPosteriors:
    """The class probabilities of the run at ``run`` over windows of a clip.

    Args:
        run: a run folder ``predict`` can serve.
        window_s, hop_s: the windows scored, in seconds.
        sample_rate: the rate the audio is decoded at (must be the run's).
    """

    def __init__(
        self, *, run: str, window_s: float = 1.0, hop_s: float = 0.5,
        sample_rate: int | None = None,
    ) -> None:  # fmt: skip
        self.run, self.window_s, self.hop_s = str(run), window_s, hop_s
        self.predictor = Predictor.from_run(run)
        self.sample_rate = self.predictor.sample_rate
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(f"posteriors: the run {run} takes {self.sample_rate} Hz audio, "
                             f"the audio is decoded at {sample_rate} Hz")  # fmt: skip
        self.classes = list(self.predictor.classes)

    def extract(self, wave: np.ndarray) -> np.ndarray:
        table = timeline(self.predictor, np.asarray(wave, dtype=np.float32),
                         window_s=self.window_s, hop_s=self.hop_s)  # fmt: skip
        return table[self.classes].to_numpy(dtype=np.float32)[None]

    def identity(self) -> dict[str, Any]:
        record = Path(self.run) / FILES
        return {"upstream": "posteriors", "classes": self.classes, "window_s": self.window_s,
                "hop_s": self.hop_s,
                "files": file_digest(record) if record.is_file() else None}  # fmt: skip
