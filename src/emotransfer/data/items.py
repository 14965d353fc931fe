"""A run's items from its manifest rows: each row's audio decoded once (bad files returned as
problems, not raised) and the items of its other inputs (text from a column, video frames
from the files a column names). An audio view (``audio_<name>``) has no items of its own: the
model reads the audio's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from emotransfer.data.audio import AudioError, load_audio
from emotransfer.data.frames import FramesError, load_frames
from emotransfer.data.streamed import stream_waves
from emotransfer.define import is_audio_view


def decode_waves(
    table: pd.DataFrame, audio: Any, *, stream: bool = False
) -> tuple[Sequence[np.ndarray | None], list[dict[str, str]]]:
    """Decode every row once; bad files are returned as problems, not raised. ``stream``:
    keep only what decodes them again when a batch needs them
    (:func:`~emotransfer.data.streamed.stream_waves`)."""
    if stream:
        return stream_waves(table, audio)
    waves: list[np.ndarray | None] = []
    problems = []
    for path, start, end in zip(table["file"], table["start"], table["end"]):
        try:
            waves.append(load_audio(path, start=start, end=end, sample_rate=audio.sample_rate,
                                    min_duration=audio.min_duration,
                                    max_duration=audio.max_duration))  # fmt: skip
        except AudioError as error:
            waves.append(None)
            problems.append({"file": str(path), "problem": error.problem})
    return waves, problems


def decode_inputs(
    table: pd.DataFrame, inputs: dict[str, dict[str, Any]], *, missing: bool = False
) -> dict[str, list]:  # fmt: skip
    """The items of every input besides audio, from its manifest column (text: the string;
    video: the ``(T, D)`` frames of the file it names, read once). ``missing``: an empty cell
    is a clip without that input (item ``None``; a model with ``missing_inputs`` takes it).

    Raises:
        ValueError: the column is missing, or a row holds no text or an unusable frame file
            (names the file).
    """
    items: dict[str, list] = {}
    for modality, entry in inputs.items():
        if is_audio_view(modality):  # the model reads the audio's items
            continue
        column = entry["column"]
        if column not in table.columns:
            raise ValueError(f"inputs.{modality}: the manifest has no column {column!r} (give "
                             f"inputs.{modality}.column, or add {column!r} to metadata.csv); "
                             f"columns: {sorted(table.columns)}")  # fmt: skip
        values = table[column].tolist()
        for row, (path, value) in enumerate(zip(table["file"], values)):
            if isinstance(value, str) and value.strip():
                continue
            if not missing:
                wanted = "a file" if modality == "video" else "text"
                raise ValueError(f"inputs.{modality}: {path}: column {column!r} holds "
                                 f"{value!r}, not {wanted} (a model trained with "
                                 "model.params.missing_inputs takes clips without it)")  # fmt: skip
            values[row] = None  # an empty cell (NaN, blank): a clip without this input
        if modality == "video":
            try:
                values = [None if value is None else load_frames(value) for value in values]
            except FramesError as error:
                raise ValueError(f"inputs.{modality}: {error}") from error
        items[modality] = values
    return items
