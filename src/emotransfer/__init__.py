"""emotransfer: transfer learning for speech and music emotion recognition."""

from emotransfer.config import ExperimentConfig, load_config
from emotransfer.experiment import run

__all__ = ["ExperimentConfig", "load_config", "run"]
__version__ = "0.1.0"
