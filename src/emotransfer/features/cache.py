"""Content-addressed feature store: (audio content x upstream identity) -> verified array.

Keys hash the audio file's bytes (plus segment bounds and rate), never its path, so a
renamed or copied corpus reuses its features and an edited file does not. Each entry is one
safetensors file written to a temporary name and renamed into place, so two runs sharing a
cache never read a half-written file, and a killed run leaves only finished entries behind.

An entry's metadata holds the duration and native sample rate of the audio segment it was
computed from (so a hit can re-apply duration limits) and a blake2b checksum over the key,
dtype, shape, that duration and rate, and the array bytes. The first entry of a store fixes
its layout (number of axes, ``L + 1`` and ``D``) in ``layout.json``. Every read verifies all
of this; an entry that fails is corrupt: :meth:`FeatureCache.get` logs a warning naming its
path, deletes it and answers ``None``, so the caller recomputes it. Entries of the older
``.npy`` format are not read (misses).

Example:
    >>> import tempfile
    >>> store = FeatureCache(root=tempfile.mkdtemp(), identity={"upstream": "demo"})
    >>> store.put("abc", np.ones((1, 1, 3), dtype="float32"), duration=2.5, sample_rate=16000)
    >>> store.get("abc").shape
    (1, 1, 3)
    >>> store.load("abc").duration
    2.5
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError, safe_open

from emotransfer.io import write_bytes

LOGGER = logging.getLogger("emotransfer")
ENTRY_FORMAT = "emotransfer-feature-cache/2"
TENSOR = "features"
FLOAT_TYPES = ("float16", "float32", "float64")


def default_cache_dir() -> Path:
    """``$EMOTRANSFER_CACHE`` or ``~/.cache/emotransfer``."""
    env = os.environ.get("EMOTRANSFER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "emotransfer"


def identity_digest(identity: dict[str, Any]) -> str:
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def files_digest(files: list[Path]) -> str:
    """A digest of files' names and bytes, in the order given (16 hex digits): what names a
    model folder's weights in a cache identity."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def entry_checksum(
    key: str, array: np.ndarray, duration: float | None, sample_rate: int | None
) -> str:
    """blake2b over everything an entry states: key, dtype, shape, audio duration and rate, bytes.

    Example:
        >>> array = np.zeros((1, 2), dtype="float32")
        >>> entry_checksum("k", array, 1.0, 16000) == entry_checksum("k", array, 1.0, 16000)
        True
        >>> entry_checksum("k", array, 1.0, 16000) == entry_checksum("k", array, 2.0, 16000)
        False
    """
    header = json.dumps([key, array.dtype.str, list(array.shape), duration, sample_rate])
    digest = hashlib.blake2b(header.encode(), digest_size=16)
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def array_layout(array: np.ndarray) -> dict[str, int]:
    """What all entries of one store share: number of axes, first (``L + 1``) and last (``D``)."""
    return {"ndim": array.ndim, "layers": array.shape[0], "dim": array.shape[-1]}


@dataclass(frozen=True, eq=False)
class Entry:
    """A verified entry.

    Attributes:
        array: the stored features.
        duration: seconds of the decoded audio segment they were computed from.
        sample_rate: that audio file's native rate in Hz.
    """

    array: np.ndarray
    duration: float | None = None
    sample_rate: int | None = None


class CorruptEntry(Exception):
    """An entry that must not be used; ``path`` and ``problem`` say which and why."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"cache entry {path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class FeatureCache:
    """One folder per upstream identity, one ``.safetensors`` file per audio key.

    Args:
        root: cache folder (shared by runs and experiments).
        identity: the upstream's ``identity()``; its digest names the sub-folder.
        modality: what the keys hash (``audio``: the clip's bytes; ``text``: the text ...).
            Another modality than audio is part of the digest and names a folder of its own,
            so features of a text and of an audio file with equal keys never meet; audio
            stores keep the folders they always had.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> audio = FeatureCache(root=root, identity={"upstream": "x"})
        >>> text = FeatureCache(root=root, identity={"upstream": "x"}, modality="text")
        >>> audio.folder.parent == text.folder.parent.parent, text.folder.parent.name
        (True, 'text')
    """

    def __init__(
        self, *, root: str | Path, identity: dict[str, Any], modality: str = "audio"
    ) -> None:  # fmt: skip
        self.root = root
        self.identity = identity
        self.modality = modality
        self._layout: dict[str, int] | None = None  # layout.json, read once

    @property
    def folder(self) -> Path:
        name = str(self.identity.get("upstream", "features")).replace("/", "_")
        if self.modality == "audio":
            return Path(self.root) / f"{name}-{identity_digest(self.identity)}"
        digest = identity_digest({**self.identity, "modality": self.modality})
        return Path(self.root) / self.modality / f"{name}-{digest}"

    @property
    def layout_path(self) -> Path:
        return self.folder / "layout.json"

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.safetensors"

    def get(self, key: str, *, mmap: bool = False) -> np.ndarray | None:
        """The array stored under ``key``; ``None`` when absent or corrupt (then deleted).

        ``mmap`` is accepted for older callers; entries are always read whole, because the
        checksum covers every byte.
        """
        try:
            entry = self.load(key)
        except CorruptEntry as error:
            self.discard(error)
            return None
        return None if entry is None else entry.array

    def load(self, key: str) -> Entry | None:
        """The verified entry under ``key``, or ``None`` when there is none.

        Raises:
            CorruptEntry: unreadable or truncated file, unknown format, non-float dtype,
                checksum mismatch, or a shape that disagrees with the store's layout.
        """
        path = self.path(key)
        try:
            with safe_open(str(path), framework="np") as handle:
                metadata = handle.metadata() or {}
                names = list(handle.keys())
                array = handle.get_tensor(TENSOR) if names == [TENSOR] else None
        except FileNotFoundError:
            return None
        except (SafetensorError, OSError, ValueError, TypeError) as error:
            raise CorruptEntry(path, f"unreadable ({_first_line(error)})") from error
        if array is None:
            raise CorruptEntry(path, f"holds tensors {names}, not [{TENSOR!r}]")
        return self._verify(path, key, array, metadata)

    def put(
        self,
        key: str,
        array: np.ndarray,
        *,
        duration: float | None = None,
        sample_rate: int | None = None,
    ) -> None:
        """Store ``array`` (a float array) computed from ``duration`` s of audio at ``sample_rate``.

        Raises:
            ValueError: a non-float array, or one whose layout disagrees with ``layout.json``.
        """
        array = np.ascontiguousarray(array)
        if array.dtype.name not in FLOAT_TYPES:
            raise ValueError(f"cache entries are float arrays, not {array.dtype}")
        duration = None if duration is None else float(duration)
        sample_rate = None if sample_rate is None else int(sample_rate)
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_identity()
        self._agree(array)
        metadata = {"format": ENTRY_FORMAT}
        metadata["checksum"] = entry_checksum(key, array, duration, sample_rate)
        if duration is not None:
            metadata["duration"] = repr(duration)
        if sample_rate is not None:
            metadata["sample_rate"] = str(sample_rate)
        write_bytes(path, safetensors.numpy.save({TENSOR: array}, metadata=metadata))

    def discard(self, error: CorruptEntry) -> None:
        """Warn about a corrupt entry and delete it, so that it is recomputed."""
        LOGGER.warning("cache entry %s: %s; recomputing", error.path, error.problem)
        error.path.unlink(missing_ok=True)

    def _verify(self, path: Path, key: str, array: np.ndarray, metadata: dict) -> Entry:
        if metadata.get("format") != ENTRY_FORMAT:
            raise CorruptEntry(path, f"unknown format {metadata.get('format')!r}")
        if array.dtype.name not in FLOAT_TYPES:
            raise CorruptEntry(path, f"dtype {array.dtype} is not a float type")
        try:
            duration = float(metadata["duration"]) if "duration" in metadata else None
            rate = int(metadata["sample_rate"]) if "sample_rate" in metadata else None
        except ValueError as error:
            raise CorruptEntry(path, f"bad metadata ({error})") from error
        if metadata.get("checksum") != entry_checksum(key, array, duration, rate):
            raise CorruptEntry(path, "checksum mismatch")
        layout = self._known_layout()
        if layout is not None and array_layout(array) != layout:
            raise CorruptEntry(path, f"shape {array.shape} disagrees with the store ({layout})")
        return Entry(array=array, duration=duration, sample_rate=rate)

    def _known_layout(self) -> dict[str, int] | None:
        if self._layout is None:
            try:
                self._layout = json.loads(self.layout_path.read_text())
            except (OSError, ValueError):
                return None  # no entry written yet (or an unreadable file put rewrites)
        return self._layout

    def _agree(self, array: np.ndarray) -> None:
        layout, known = array_layout(array), self._known_layout()
        if known is None:
            write_bytes(self.layout_path, json.dumps(layout).encode())
            self._layout = layout
        elif layout != known:
            raise ValueError(
                f"array of shape {array.shape} disagrees with {self.layout_path} ({known})"
            )

    def _write_identity(self) -> None:
        target = self.folder / "identity.json"
        if not target.is_file():
            text = json.dumps(self.identity, indent=1, sort_keys=True, default=str)
            write_bytes(target, text.encode())


def pooled_cache(cache: FeatureCache) -> FeatureCache:
    """The statistics store beside a frame store."""
    return FeatureCache(root=cache.root, identity={**cache.identity, "level": "pooled"})


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
