"""Run folders: what a training run leaves behind (store.py), its model file (model_file.py) and the
loggers that mirror its metrics (loggers.py)."""

from .store import LoadedRun, load_run, read_metrics, save_run

__all__ = ["LoadedRun", "load_run", "read_metrics", "save_run"]
