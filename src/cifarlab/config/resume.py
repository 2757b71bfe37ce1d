"""Resuming a run: its saved config, with the changes a user asks for refused unless accepted."""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigError
from .overrides import apply_overrides
from .schema import ExperimentConfig


def resume(saved: ExperimentConfig, overrides: dict[str, Any], allow_changes: bool = False) -> ExperimentConfig:
    """A run's saved config with ``overrides``; differences are refused unless ``allow_changes``."""
    overrides = {k: v for k, v in overrides.items() if k != "name"}  # the run keeps its folder
    config = apply_overrides(ExperimentConfig.from_dict(saved.to_dict()), overrides).validate()
    before, after = _flat(saved.to_dict()), _flat(config.to_dict())
    diffs = [f"{k} {before[k]!r} -> {after[k]!r}" for k in sorted(after) if before.get(k) != after[k]]
    if diffs and not allow_changes:
        raise ConfigError(
            f"resume settings differ from the run's config ({'; '.join(diffs)}); add --override to accept"
        )
    return config


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and k in ("data", "train"):
            out.update(_flat(v, f"{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out
