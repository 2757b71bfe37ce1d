"""Recipes applied: the one place a run's config is made, and each model's settings by name.

The named recipes themselves are data, in recipe_book.py. :func:`resolve` builds every run's config
in one place (the CLI's train, tune, ``--from-study``, :func:`cifarlab.train`, ``bench``), so a rule
written once holds everywhere:

- no recipe: the model's own recipe (``cifarlab models``); neither: the default recipe, or with a time
  budget the recipe this machine class reaches the most with in it (frontier.py), said in one line;
- a recipe paired with a model it was not made for: a one-line warning naming what may not transfer;
- model options: a recipe's apply to its own model; options given with a named model replace them; an
  option given replaces the recipe's alternative to it (fastnet's ``width`` and ``widths``);
- ``time_budget`` chooses the epochs, so it cannot be given with ``epochs``;
- ``select_on='test'`` (the notebook's protocol) trains on all images unless ``val_size`` is given;
- tuning needs a validation split: a recipe without one holds out the default 5,000 images;
- a new ``epochs`` scales the recipe's warm-up and keeps its evaluated last epochs (apply_overrides);
- with a time budget, a recipe's ``budget`` settings hold under the user's (the zoo's: all training
  images, last epoch kept, evaluated once), unless a validation protocol is asked for (``val_size`` or
  ``select_on`` given): then the recipe's per-epoch evaluation stays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.errors import ConfigError, warn
from ..core.host import is_launcher_main
from .overrides import apply_overrides, transfer_settings
from .recipe_book import DEFAULT_RECIPE, FAMILY_RECIPES, RECIPES, Recipe, default_recipe, get_recipe
from .schema import DataConfig, ExperimentConfig

# The recipe table's names, here too: `cifarlab.config.recipes` is where users look for recipes.
__all__ = [
    "DEFAULT_RECIPE",
    "FAMILY_RECIPES",
    "RECIPES",
    "Recipe",
    "default_recipe",
    "for_model",
    "get_recipe",
    "mismatch_note",
    "resolve",
]


def for_model(
    model: str, recipe: str | None = None, *, budget: float | str | None = None, **model_kwargs: Any
) -> ExperimentConfig:
    """The settings ``model`` trains with: its default recipe (or ``recipe``) applied to it.

    ``for_model("resnet18")`` is what ``cifarlab train --model resnet18`` runs; pass the result, changed
    at will, to :func:`cifarlab.experiment.run_experiment` (or call :func:`cifarlab.train`). Options
    given here replace the recipe's (``for_model("fastnet", width=1.0)``), as ``--model-arg`` does.
    ``budget`` (seconds, or ``"10m"``): the settings of ``--time-budget``, which for the zoo's recipes
    train on all images and keep the last epoch (its epochs are chosen when the run measures the machine).
    """
    from ..core.durations import parse_duration

    overrides = {"time_budget": parse_duration(budget)} if budget is not None else {}
    return resolve(recipe, model, model_kwargs, overrides)


def mismatch_note(recipe: str, model: str) -> str | None:
    """One line when ``recipe`` was not made for ``model``, naming the settings that may not transfer."""
    r = get_recipe(recipe)
    own = default_recipe(model)
    if r.model == model or own == recipe:
        return None
    theirs, ours = r.config(), get_recipe(own).config()
    diffs = []
    for key in transfer_settings():
        section = theirs.data if key == "val_size" else theirs.train
        mine = ours.data if key == "val_size" else ours.train
        if getattr(section, key) != getattr(mine, key):
            diffs.append(f"{key} {getattr(section, key)!r}")
    listed = ", ".join(diffs[:8]) + (", ..." if len(diffs) > 8 else "")
    return (
        f"recipe '{recipe}' was made for {r.model}, not {model}; settings that may not transfer: {listed} "
        f"('{own}' is {model}'s own recipe)"
    )


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
    overrides = dict(overrides or {})
    if recipe is None and model is None and overrides.get("time_budget") is not None:
        from ..core.host import resolve_device
        from .frontier import pick

        recipe, line = pick(float(overrides["time_budget"]), resolve_device(overrides.get("device", "auto")))
        if is_launcher_main():
            note(line)
    base = get_recipe(recipe or (default_recipe(model) if model else DEFAULT_RECIPE))
    if recipe and model:
        mismatch = mismatch_note(recipe, model)
        if mismatch and is_launcher_main():  # once, not in every torchrun process
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
    from ..models.registry import model_info

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
