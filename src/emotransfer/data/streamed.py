"""Clips decoded when a batch needs them: the trainable path's audio without holding the
corpus in memory.

A :class:`StreamedWaves` is what a list of decoded waveforms is to the training loop and the
batched model functions (``len``, indexing, each clip's length for length-sorted batches,
:meth:`~StreamedWaves.subset` for a fold's rows), but it keeps only the paths, segment bounds
and the lengths the validation pass measured: indexing decodes (and resamples) the clip
again, so memory holds one batch of audio whatever the corpus (MSP-Podcast's 240 hours are
about 55 GB of float32 samples). :func:`stream_waves` validates every row once (decoded and
thrown away) so bad files are found before training, as :func:`~emotransfer.data.items.decode_waves`
finds them. The training loop's workers decode the next batches in parallel
(:mod:`emotransfer.training.loader`).

Example:
    >>> import tempfile, soundfile, pandas as pd
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> soundfile.write(path, 0.1 * np.sin(np.arange(8000) / 5.0), 8000)
    >>> table = pd.DataFrame({"file": [path, "absent.wav"], "start": None, "end": None})
    >>> waves, problems = stream_waves(table, {"sample_rate": 16000})
    >>> waves.lengths(), waves[0].shape, waves[1], problems[0]["problem"]
    ([16000, 0], (16000,), None, 'file does not exist')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from emotransfer.data.audio import AudioError, load_audio


class StreamedWaves(Sequence):
    """Waveforms decoded on access (see the module).

    Args:
        clips: ``(path, start, end)`` per item; ``None`` for a row whose audio is bad (its
            item is ``None``, as in a decoded list).
        lengths: samples of each item after decoding (0 for a bad row).
        audio: :func:`~emotransfer.data.audio.load_audio`'s keyword arguments
            (``sample_rate``, ``min_duration``, ``max_duration``).
    """

    def __init__(self, *, clips: list[tuple[str, Any, Any] | None], lengths: list[int],
                 audio: dict[str, Any]) -> None:  # fmt: skip
        self.clips, self.audio = list(clips), dict(audio)
        self._lengths = [int(n) for n in lengths]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> np.ndarray | None:  # type: ignore[override]
        clip = self.clips[index]
        if clip is None:
            return None
        path, start, end = clip
        try:
            return load_audio(path, start=start, end=end, **self.audio)
        except AudioError as error:  # it decoded at validation: the file changed since
            raise AudioError(error.path, f"{error.problem} (it was readable when the run "
                                         "started)") from error  # fmt: skip

    def lengths(self) -> list[int]:
        """Samples of every item (what ``len`` of each decoded wave would be)."""
        return list(self._lengths)

    def subset(self, rows: Sequence[int] | np.ndarray) -> StreamedWaves:
        """The items at ``rows``, still streamed."""
        clips, lengths = [self.clips[i] for i in rows], [self._lengths[i] for i in rows]
        return StreamedWaves(clips=clips, lengths=lengths, audio=self.audio)


def stream_waves(table: pd.DataFrame, audio: Any) -> tuple[StreamedWaves, list[dict[str, str]]]:
    """Validate every row (decode it once, keep its length) and return the rows as
    :class:`StreamedWaves` (a bad row's item is ``None``) and the problems found.

    ``audio``: the ``data.audio`` section, or a dict of its ``sample_rate``, ``min_duration``
    and ``max_duration``.
    """
    names = ("sample_rate", "min_duration", "max_duration")
    options = ({name: audio[name] for name in names if name in audio} if isinstance(audio, dict)
               else {name: getattr(audio, name) for name in names})  # fmt: skip
    clips: list[tuple[str, Any, Any] | None] = []
    lengths, problems = [], []
    for path, start, end in zip(table["file"], table["start"], table["end"]):
        try:
            lengths.append(len(load_audio(path, start=start, end=end, **options)))
            clips.append((str(path), start, end))
        except AudioError as error:
            clips.append(None)
            lengths.append(0)
            problems.append({"file": str(path), "problem": error.problem})
    return StreamedWaves(clips=clips, lengths=lengths, audio=options), problems
