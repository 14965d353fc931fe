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
from emotransfer.data.streamed import StreamedWaves
from emotransfer.define import is_audio_view


def decode_waves(
    table: pd.DataFrame, audio: Any, *, stream: bool = False
) -> tuple[Sequence[np.ndarray | None], list[dict[str, str]]]:
    """Decode every row once (``audio``: the ``data.audio`` section); bad files are returned
    as problems, not raised. ``stream``: keep each clip's path and length, not its samples
    (:class:`~emotransfer.data.streamed.StreamedWaves`, decoded again when a batch needs it)."""
    options = audio.options()
    waves: list[np.ndarray | None] = []
    clips: list[tuple[str, Any, Any] | None] = []
    lengths, problems = [], []
    for path, start, end in zip(table["file"], table["start"], table["end"]):
        try:
            wave = load_audio(path, start=start, end=end, **options)
        except AudioError as error:
            wave = None
            problems.append({"file": str(path), "problem": error.problem})
        clips.append(None if wave is None else (str(path), start, end))
        lengths.append(0 if wave is None else len(wave))
        if not stream:
            waves.append(wave)
    if stream:
        return StreamedWaves(clips=clips, lengths=lengths, audio=options), problems
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
