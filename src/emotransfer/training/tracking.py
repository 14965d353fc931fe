"""Experiment trackers through Accelerate (``finetune.log_with``): each trained model's epochs
(loss, validation UAR, seconds) logged as it trains.

* ``tensorboard``: event files in the model's own folder, ``<model folder>/tracking/`` (a fold's
  ``models/<fold>/``, the refit's ``refit/``), so ``tensorboard --logdir runs/NAME`` shows every
  fold of a run side by side.
* ``mlflow``: one MLflow run per trained model (named after its folder) in the experiment named
  after the run; MLflow stores it where ``MLFLOW_TRACKING_URI`` says (a tracking server or a
  database; a local file store needs ``MLFLOW_ALLOW_FILE_STORE=true`` since MLflow 3).

The trackers' packages are optional (``pip install 'emotransfer[track]'``); a missing one is
named before training starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

TRACKERS = ("tensorboard", "mlflow")
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow"}


def check_tracker(kind: str) -> None:
    """Raise ``ImportError`` (saying what to install) when ``kind``'s package is missing, and
    ``ValueError`` for an unknown kind.

    Example:
        >>> check_tracker("wandb")
        Traceback (most recent call last):
        ...
        ValueError: finetune.log_with 'wandb': use none, tensorboard or mlflow
    """
    if kind not in TRACKERS:
        raise ValueError(f"finetune.log_with {kind!r}: use none, {', '.join(TRACKERS[:-1])} or "
                         f"{TRACKERS[-1]}")  # fmt: skip
    import importlib.util

    if importlib.util.find_spec(PACKAGES[kind]) is None:
        raise ImportError(f"finetune.log_with {kind!r} needs the {PACKAGES[kind]} package: pip "
                          "install 'emotransfer[track]'")  # fmt: skip


def start_tracking(
    accelerator: Any, kind: str, folder: Path, *, experiment: str, settings: Mapping[str, Any]
) -> None:  # fmt: skip
    """Start ``accelerator``'s tracker of ``kind`` for the model trained in ``folder`` (see
    the module), recording the scalar ``settings`` (hyper-parameters) with it."""
    check_tracker(kind)
    scalars = {key: value for key, value in settings.items()
               if isinstance(value, bool | int | float | str)}  # fmt: skip
    if kind == "tensorboard":
        accelerator.init_trackers("tracking", config=scalars)
    else:
        accelerator.init_trackers(experiment, config=scalars,
                                  init_kwargs={"mlflow": {"run_name": folder.name}})  # fmt: skip


def log_epoch(accelerator: Any, record: Mapping[str, float]) -> None:
    """One epoch's numbers (``loss``, ``valid_uar``, ``seconds``) at step ``epoch``."""
    values = {key: float(value) for key, value in record.items() if key != "epoch"}
    accelerator.log(values, step=int(record["epoch"]))
