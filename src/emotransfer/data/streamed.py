"""Clips decoded when a batch needs them: the trainable path's audio without holding the
corpus in memory.

A :class:`StreamedWaves` is what a list of decoded waveforms is to the training loop and the
batched model functions (``len``, indexing, each clip's length for length-sorted batches,
:meth:`~StreamedWaves.subset` for a fold's rows), but it keeps only the paths, segment bounds
and the lengths the validation pass measured: indexing decodes (and resamples) the clip
again, so memory holds one batch of audio whatever the corpus (MSP-Podcast's 240 hours are
about 55 GB of float32 samples). :func:`~emotransfer.data.items.decode_waves` with
``stream=True`` makes one after validating every row once (decoded and thrown away), so bad
files are found before training. The training loop's workers decode the next batches in
parallel (:mod:`emotransfer.training.loader`).

Example:
    >>> import tempfile, soundfile
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> soundfile.write(path, 0.1 * np.sin(np.arange(8000) / 5.0), 8000)
    >>> waves = StreamedWaves(clips=[(path, None, None), None], lengths=[16000, 0],
    ...                       audio={"sample_rate": 16000})
    >>> len(waves), waves[0].shape, waves[1], waves.subset([0]).lengths()
    (2, (16000,), None, [16000])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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
