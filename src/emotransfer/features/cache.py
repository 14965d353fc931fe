"""Content-addressed feature store: (audio content x upstream identity) -> array.

Keys hash the audio file's bytes (plus segment bounds and rate), never its path, so a
renamed or copied corpus reuses its features and an edited file does not. Each entry is one
``.npy`` written to a temporary name and renamed into place, so two runs sharing a cache
never read a half-written file, and a killed run leaves only finished entries behind.

Example:
    >>> import tempfile
    >>> store = FeatureCache(root=tempfile.mkdtemp(), identity={"upstream": "demo"})
    >>> store.put("abc", np.ones((1, 1, 3), dtype="float32"))
    >>> store.get("abc").shape
    (1, 1, 3)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def default_cache_dir() -> Path:
    """``$EMOTRANSFER_CACHE`` or ``~/.cache/emotransfer``."""
    env = os.environ.get("EMOTRANSFER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "emotransfer"


def identity_digest(identity: dict[str, Any]) -> str:
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class FeatureCache:
    """One folder per upstream identity, one ``.npy`` per audio key.

    Args:
        root: cache folder (shared by runs and experiments).
        identity: the upstream's ``identity()``; its digest names the sub-folder.
    """

    def __init__(self, *, root: str | Path, identity: dict[str, Any]) -> None:
        self.root = root
        self.identity = identity

    @property
    def folder(self) -> Path:
        name = str(self.identity.get("upstream", "features")).replace("/", "_")
        return Path(self.root) / f"{name}-{identity_digest(self.identity)}"

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str, *, mmap: bool = False) -> np.ndarray | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None  # unreadable entry: recompute and overwrite it

    def put(self, key: str, array: np.ndarray) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_identity()
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, np.ascontiguousarray(array), allow_pickle=False)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _write_identity(self) -> None:
        target = self.folder / "identity.json"
        if target.is_file():
            return
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            json.dump(self.identity, stream, indent=1, sort_keys=True, default=str)
        os.replace(temporary, target)
