"""Per-clip frame features of another modality (a face or video model's output), read from a
file: ``.npy`` (read without pickle) or ``.safetensors`` (one tensor, or one named
``features``), shape ``(T, D)``: one row per frame.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "clip.npy"
    >>> np.save(path, np.ones((5, 3), dtype=np.float32))
    >>> load_frames(path).shape
    (5, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class FramesError(ValueError):
    """A frame-feature file that cannot be used (the message names it)."""


def load_frames(path: str | Path) -> np.ndarray:
    """``(T, D)`` float32 frames of ``path``.

    Raises:
        FramesError: missing, not a regular file, another format, a pickled array, not 2-D,
            no frames, or NaN/inf values.
    """
    path = Path(path)
    if not path.is_file():
        raise FramesError(f"{path}: no such frame-feature file")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            tensors = load_file(str(path))
            if "features" not in tensors and len(tensors) != 1:
                raise FramesError(f"{path}: holds {sorted(tensors)}; give one tensor, or name "
                                  "it 'features'")  # fmt: skip
            array = tensors.get("features", next(iter(tensors.values()), None))
        else:
            raise FramesError(f"{path}: frame features are .npy or .safetensors files")
    except FramesError:
        raise
    except Exception as error:  # numpy and safetensors raise their own kinds
        raise FramesError(f"{path}: not a readable frame-feature file ({error})") from error
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] == 0 or not np.issubdtype(array.dtype, np.number):
        raise FramesError(f"{path}: frame features must be a numeric (T, D) array with T >= 1, "
                          f"not {array.dtype} {array.shape}")  # fmt: skip
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise FramesError(f"{path}: frame features hold NaN or inf")
    return array
