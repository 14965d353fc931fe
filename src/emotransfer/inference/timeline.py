"""Long recordings: class probabilities over time, and the events they show.

A recording longer than the clips a run was trained on is cut into windows of about the
training clips' length (``window_s``, every ``hop_s``); every window is scored, all windows
of one recording together (a speaker-normalised run treats the recording as one speaker).
:func:`timeline` gives one row per window (start, end, the predicted class and every
probability); :func:`events` merges consecutive windows whose best class is one of the
``targets`` (a nonverbal detector's ``laughing``, ``crying`` ...) with a probability of at
least ``threshold`` into events with start and end times, each scored by the mean
probability of its class over its windows. :func:`voiced` keeps only the voiced stretches
(WebRTC's voice activity detector); :func:`summary` gives the whole file's
duration-weighted probabilities.

Example:
    >>> windows(10.0, window_s=4.0, hop_s=2.0)
    [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (6.0, 10.0)]
    >>> windows(3.0, window_s=4.0, hop_s=2.0)  # shorter than a window: the whole of it
    [(0.0, 3.0)]
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def windows(duration: float, *, window_s: float, hop_s: float) -> list[tuple[float, float]]:
    """``(start, end)`` in seconds covering ``duration``: windows of ``window_s`` every
    ``hop_s``, the last one ending at the end (shifted back, never shorter).

    Raises:
        ValueError: a window or hop that is not positive, or a hop longer than the window
            (parts of the recording would never be scored).
    """
    if window_s <= 0 or hop_s <= 0 or hop_s > window_s:
        raise ValueError(f"window_s {window_s} and hop_s {hop_s}: need 0 < hop_s <= window_s")
    if duration <= window_s:
        return [(0.0, round(duration, 6))]
    starts = list(np.arange(0.0, duration - window_s, hop_s)) + [duration - window_s]
    return [(round(float(s), 6), round(float(s) + window_s, 6)) for s in starts]


def voiced(
    wave: np.ndarray, rate: int, *, aggressiveness: int = 2, min_voiced_s: float = 0.25,
    min_gap_s: float = 0.3,
) -> list[tuple[float, float]]:  # fmt: skip
    """``(start, end)`` of the voiced stretches of ``wave`` by WebRTC's voice activity detector
    (30 ms frames; ``aggressiveness`` 0-3): gaps under ``min_gap_s`` are bridged, stretches
    under ``min_voiced_s`` dropped.

    Raises:
        ValueError: a rate WebRTC does not take (8, 16, 32 or 48 kHz).
        ImportError: webrtcvad is not installed (``pip install emotransfer[vad]``).
    """
    import webrtcvad

    if rate not in (8000, 16000, 32000, 48000):
        raise ValueError(f"voice activity detection takes 8, 16, 32 or 48 kHz audio, not {rate}")
    detector = webrtcvad.Vad(aggressiveness)
    step = int(rate * 0.03)
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2")
    flags = [detector.is_speech(pcm[i : i + step].tobytes(), rate)
             for i in range(0, len(pcm) - step + 1, step)]  # fmt: skip
    stretches: list[list[float]] = []
    for number, speech in enumerate(flags):
        if not speech:
            continue
        start, end = number * 0.03, (number + 1) * 0.03
        if stretches and start - stretches[-1][1] < min_gap_s:
            stretches[-1][1] = end
        else:
            stretches.append([start, end])
    return [(round(a, 3), round(b, 3)) for a, b in stretches if b - a >= min_voiced_s]


def voiced_silero(
    wave: np.ndarray, rate: int, *, min_voiced_s: float = 0.25, min_gap_s: float = 0.3
) -> list[tuple[float, float]]:  # fmt: skip
    """``(start, end)`` of the speech in ``wave`` by Silero's neural voice activity detector
    (the ONNX model its PyPI package ships, run by onnxruntime: nothing is unpickled): gaps
    under ``min_gap_s`` are bridged, stretches under ``min_voiced_s`` dropped. A speech
    detector: it ignores noise, music and tones that WebRTC's energy-based one flags.

    Raises:
        ValueError: a rate Silero does not take (8 or 16 kHz).
        ImportError: silero-vad is not installed (``pip install emotransfer[vad]``).
    """
    if rate not in (8000, 16000):
        raise ValueError(f"Silero voice activity detection takes 8 or 16 kHz audio, not {rate}")
    import torch
    from silero_vad import get_speech_timestamps

    found = get_speech_timestamps(
        torch.from_numpy(np.asarray(wave, dtype=np.float32)), _silero(), sampling_rate=rate,
        min_speech_duration_ms=int(min_voiced_s * 1000),
        min_silence_duration_ms=int(min_gap_s * 1000), return_seconds=True,
    )  # fmt: skip
    return [(round(float(s["start"]), 3), round(float(s["end"]), 3)) for s in found]


@functools.cache
def _silero() -> Any:
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=True)


VADS = {"webrtc": voiced, "silero": voiced_silero}


def timeline(
    predictor: Any, wave: np.ndarray, *, window_s: float = 2.0, hop_s: float = 1.0,
    vad: bool | str = False, smooth: int = 1,
) -> pd.DataFrame:  # fmt: skip
    """One row per window of ``wave`` (mono, at ``predictor.sample_rate``): ``start``,
    ``end`` (seconds), ``predicted`` and one probability column per class. With ``vad``
    (``"webrtc"`` or ``True``, ``"silero"``) only the voiced stretches are cut into windows
    (silence gets no row); ``smooth`` (odd) averages each class's probability over that many
    neighbouring windows before ``predicted``.

    Raises:
        ValueError: an unknown ``vad``.
    """
    rate = predictor.sample_rate
    duration = len(wave) / rate
    if vad is True:
        vad = "webrtc"
    if vad and vad not in VADS:
        raise ValueError(f"vad {vad!r}: use webrtc or silero")
    stretches = VADS[vad](wave, rate) if vad else [(0.0, duration)]
    spans = [(round(a + start, 6), round(b + start, 6)) for start, end in stretches
             for a, b in windows(end - start, window_s=window_s, hop_s=hop_s)]  # fmt: skip
    if not spans:
        return pd.DataFrame(columns=["start", "end", "predicted", *predictor.classes])
    pieces = [wave[int(round(start * rate)) : int(round(end * rate))] for start, end in spans]
    speakers = None  # one window: the average training speaker, where the run kept it
    if len(pieces) > 1 and predictor.scorer.speaker_norm:
        speakers = ["recording"] * len(pieces)  # the recording is one speaker
    elif predictor.scorer.speaker_norm and not predictor.clip_independent:
        pieces = pieces * 2  # one window of one speaker: its own mean, twice, is the same
    scores = predictor.predict_signals(pieces, speakers=speakers)[: len(spans)]
    table = pd.DataFrame(scores, columns=predictor.classes)
    if smooth > 1:
        if smooth % 2 == 0:
            raise ValueError(f"smooth {smooth}: an odd number of windows")
        table = table.rolling(smooth, center=True, min_periods=1).mean()
        table = table.div(table.sum(axis=1), axis=0)
    table.insert(0, "predicted", table.idxmax(axis=1))
    table.insert(0, "end", [end for _, end in spans])
    table.insert(0, "start", [start for start, _ in spans])
    return table


@dataclass
class Event:
    """A stretch of a recording whose windows show one target class."""

    label: str
    start: float
    end: float
    score: float  # the class's mean probability over the event's windows


def events(
    table: pd.DataFrame, targets: Collection[str], *, threshold: float = 0.5
) -> list[Event]:  # fmt: skip
    """Consecutive (overlapping or touching) windows of :func:`timeline` whose predicted
    class is in ``targets`` with a probability >= ``threshold``, merged per class.

    Raises:
        ValueError: a target that is not one of the table's classes.
    """
    unknown = sorted(set(targets) - set(table.columns[3:]))
    if unknown:
        raise ValueError(f"targets {unknown}: not classes of this run ({list(table.columns[3:])})")
    found: list[Event] = []
    scores: list[float] = []
    for row in table.to_dict("records"):  # class names need not be identifiers
        label = row["predicted"]
        probability = float(row[label]) if label in targets else 0.0
        if label not in targets or probability < threshold:
            continue
        last = found[-1] if found else None
        if last is not None and last.label == label and row["start"] <= last.end:
            last.end = float(row["end"])
            scores.append(probability)
            last.score = float(np.mean(scores))
            continue
        scores = [probability]
        found.append(Event(label, float(row["start"]), float(row["end"]), probability))
    return found


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """The whole recording: each class's probability averaged over the windows weighted by
    their duration (a window overlapping its neighbours counts its full length), the most
    probable class, and the seconds covered."""
    classes = list(table.columns[3:])
    if table.empty:
        return {"predicted": None, "seconds": 0.0, **dict.fromkeys(classes, float("nan"))}
    weights = (table["end"] - table["start"]).to_numpy(dtype=float)
    means = {c: float(np.average(table[c].to_numpy(dtype=float), weights=weights))
             for c in classes}  # fmt: skip
    return {"predicted": max(means, key=means.get), "seconds": float(weights.sum()), **means}
