"""cifarlab: a fast, honest lab for training image classifiers on CIFAR-10."""

from .config import DataConfig, ExperimentConfig, TrainConfig
from .errors import CifarlabError
from .models import count_parameters, create_model, list_models, register_model
from .runs import load_run
from .trainer import EarlyStopping, History, Trainer, evaluate

__version__ = "0.1.0"

__all__ = [
    "CifarlabError", "DataConfig", "EarlyStopping", "ExperimentConfig", "History", "TrainConfig", "Trainer",
    "count_parameters", "create_model", "evaluate", "list_models", "load_run", "register_model",
]  # fmt: skip
