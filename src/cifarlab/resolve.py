"""Configuration resolved in one place: recipe -> model defaults -> overrides -> rules -> validation.

The CLI (train, tune, ``--from-study``, ``--resume``), :func:`cifarlab.train` and ``bench`` all build
their :class:`~cifarlab.config.ExperimentConfig` here, so a rule written once holds everywhere:

- no recipe: the model's own recipe (``cifarlab models``); neither: the default recipe, or with a time budget
  the recipe this machine class reaches the most with in it (frontier.py), said in one line;
- a recipe paired with a model it was not made for: a one-line warning naming what may not transfer;
- model options: a recipe's apply to its own model; options given with a named model replace them; an
  option given replaces the recipe's alternative to it (fastnet's ``width`` and ``widths``);
- ``time_budget`` chooses the epochs, so it cannot be given with ``epochs``;
- ``select_on='test'`` (the notebook's protocol) trains on all images unless ``val_size`` is given;
- tuning needs a validation split: a recipe without one holds out the default 5,000 images;
- a new ``epochs`` scales the recipe's warm-up and keeps its evaluated last epochs (apply_overrides);
- with a time budget, a recipe's ``budget`` settings hold under the user's (the zoo's: all training
  images, last epoch kept, evaluated once; recipes.py), unless a validation protocol is asked for
  (``val_size`` or ``select_on`` given): then the recipe's per-epoch evaluation stays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .config import DataConfig, ExperimentConfig, apply_overrides
from .errors import ConfigError, warn


def resolve(
    recipe: str | None = None,
    model: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    tuning: bool = False,
    note: Callable[[str], None] = print,
) -> ExperimentConfig:
    """The validated config for ``recipe`` and/or ``model`` with ``overrides`` (field name -> value)."""
    from .recipes import DEFAULT_RECIPE, default_recipe, get_recipe, mismatch_note

    overrides = dict(overrides or {})
    if recipe is None and model is None and overrides.get("time_budget") is not None:
        from .frontier import pick
        from .speed import resolve_device

        recipe, line = pick(float(overrides["time_budget"]), resolve_device(overrides.get("device", "auto")))
        if os.environ.get("RANK", "0") == "0":
            note(line)
    base = get_recipe(recipe or (default_recipe(model) if model else DEFAULT_RECIPE))
    if recipe and model:
        mismatch = mismatch_note(recipe, model)
        if mismatch and os.environ.get("RANK", "0") == "0":  # once, not in every torchrun process
            warn(mismatch)
    budget_rule = overrides.get("time_budget") is not None and not {"val_size", "select_on"} & set(overrides)
    config = base.config(time_budget=budget_rule)
    if model is not None and (model != base.model or model_kwargs):
        config.model, config.model_kwargs = model, {}  # another model, or its options given anew
    config.model_kwargs.update(model_kwargs or {})
    _drop_replaced_alternatives(config, model_kwargs or {})
    if overrides.get("time_budget") is not None and overrides.get("epochs") is not None:
        raise ConfigError("--time-budget chooses the number of epochs; drop --epochs (or --time-budget)")
    if overrides.get("select_on") == "test" and "val_size" not in overrides:
        overrides["val_size"] = 0  # the notebook's protocol: all training images, watch test
    apply_overrides(config, overrides)
    if tuning and "val_size" not in overrides and config.data.val_size == 0:
        config.data.val_size = DataConfig.val_size
        note(f"note: holding out {config.data.val_size} validation images to tune on (the recipe uses none)")
    return config.validate()


def _drop_replaced_alternatives(config: ExperimentConfig, given: dict[str, Any]) -> None:
    """``--recipe fast89-wide --model-arg width=0.75`` means that width: drop the recipe's ``widths``,
    which the model would otherwise take over it without a word. Both given at once: one-line refusal."""
    from .models import model_info

    if not given:
        return
    for group in model_info(config.model).alternatives:
        named = [k for k in group if k in given]
        if len(named) > 1:
            raise ConfigError(
                f"--model-arg {' and '.join(named)} set the same thing in {config.model}; give one of them"
            )
        for k in group:
            if named and k != named[0]:
                config.model_kwargs.pop(k, None)


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
