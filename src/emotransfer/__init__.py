"""emotransfer: transfer learning for speech and music emotion recognition.

The names below are imported on first use (PEP 562), so that ``import emotransfer.inference``
loads the inference code only, not the training loop or the run driver.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ExperimentConfig", "load_config", "run"]
__version__ = "0.1.0"
_HOMES = {"ExperimentConfig": "emotransfer.config", "load_config": "emotransfer.config",
          "run": "emotransfer.experiment"}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'emotransfer' has no attribute {name!r}")
