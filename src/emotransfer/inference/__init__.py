"""Inference from a trained run folder: one :class:`~emotransfer.inference.predictor.Predictor`
for every kind of run (frozen-feature heads and trained models alike).

Layers: ``loading`` turns a checked run folder into fold scorers (``scorers``); the
Predictor decodes audio with the run's limits and averages the folds. Nothing here imports
from ``training/``.
"""

from emotransfer.inference.predictor import Predictor

__all__ = ["Predictor"]
