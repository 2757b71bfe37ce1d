"""Settings: the typed configs saved with every run (schema.py), the named recipes and the one place
a run's config is resolved (recipes.py), the recipe picked for a time budget (frontier.py), and a
resumed run's config (resume.py)."""

from .overrides import apply_overrides
from .schema import DataConfig, ExperimentConfig, TrainConfig

__all__ = ["DataConfig", "ExperimentConfig", "TrainConfig", "apply_overrides"]
