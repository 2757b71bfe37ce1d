"""cifarlab: a fast, honest lab for training image classifiers on CIFAR-10."""

import importlib

from .config.schema import DataConfig, ExperimentConfig, TrainConfig
from .core.errors import CifarlabError
from .core.jupyter import show_user_errors_briefly
from .models import count_parameters, create_model, list_models, register_model

__version__ = "0.1.0"

# In a Jupyter kernel, a CifarlabError raised by a cell shows as its one line, as the CLI prints it
# (the cell still fails and the kernel lives on; %tb shows the traceback). Elsewhere: nothing.
show_user_errors_briefly()


# The training engine is imported on first use, so that `import cifarlab.models` or `cifarlab.tools.baseline`
# (the textbook loop the zoo is measured against) loads none of it.
_LAZY = {
    "Trainer": ".training.trainer",
    "evaluate": ".training.step",
    "EarlyStopping": ".training.history",
    "History": ".training.history",
    "load_run": ".runs.store",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    # cifarlab.train (experiment.train) is imported on first use: it pulls in matplotlib and the
    # data loader, which a plain `import cifarlab` should not pay for.
    if name == "train":
        from .experiment import train

        return train
    if name in ("robustness", "evaluate_robustness"):  # numpy/scipy corruptions: also on first use
        module = importlib.import_module(".analysis.robustness", __name__)  # not `from . import`: it would recurse here
        return module if name == "robustness" else module.evaluate_robustness
    raise AttributeError(f"module 'cifarlab' has no attribute '{name}'")


__all__ = [
    "CifarlabError",
    "DataConfig",
    "EarlyStopping",
    "ExperimentConfig",
    "History",
    "TrainConfig",
    "Trainer",
    "count_parameters",
    "create_model",
    "evaluate",
    "evaluate_robustness",
    "list_models",
    "load_run",
    "register_model",
    "robustness",
    "train",
]
