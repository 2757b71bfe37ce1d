"""Settings by name: the names a user may set, setting them on a config (with the rules that carry a
recipe's warm-up and evaluated epochs along a new length), and what the fields' metadata says about
them (whole numbers, settings that decide whether a recipe transfers)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..core.errors import unknown_name
from .schema import DataConfig, ExperimentConfig, TrainConfig, annotation


def setting_names() -> list[str]:
    """Every field a user sets by name (``epochs``, ``val_size``, ``out``, ...); the CLI's flags are
    named after them. The model and its options, and the recipe, are chosen separately (config/recipes.py)."""
    top = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name not in ("model", "model_kwargs", "recipe")]
    nested = [f.name for cls in (DataConfig, TrainConfig) for f in dataclasses.fields(cls)]
    return [n for n in top if n not in ("data", "train")] + nested


def warmup_for(epochs: float, share: float) -> float:
    """A warm-up of ``share`` of ``epochs``, rounded to 12 places, so that a recipe's own warm-up and
    the one an ``--epochs`` override rescales it to are equal numbers (0.2 * 23 alone is 4.6000000000000005)."""
    return round(share * epochs, 12)


def apply_overrides(config: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """Set fields by name: top-level, ``data.<field>``/``train.<field>``, or a bare field of either.

    A new ``epochs`` carries two settings along unless they are given too. A warm-up is a share of
    the training, so ``warmup_epochs`` scales with it (fast94's 8 warm-up epochs would otherwise
    outlast a 2-epoch trial, whose LR would then never decay). ``eval_from`` keeps the same number
    of evaluated epochs at the end (a recipe that evaluates its last epoch only still does).
    """
    new_epochs = overrides.get("epochs", overrides.get("train.epochs"))
    given = set(overrides)
    old = config.train
    if new_epochs and old.warmup_epochs > 0 and not {"warmup_epochs", "train.warmup_epochs"} & given:
        overrides = {**overrides, "warmup_epochs": warmup_for(new_epochs, old.warmup_epochs / old.epochs)}
    if new_epochs and old.eval_from > 1 and not {"eval_from", "train.eval_from"} & given:
        # counted in whole epochs: 4.5 epochs end with epoch 5
        shift = math.ceil(new_epochs) - math.ceil(old.epochs)
        overrides = {**overrides, "eval_from": max(1, old.eval_from + shift)}
    for key, value in overrides.items():
        setattr(*_holder(config, key), value)
    return config


def get_setting(config: ExperimentConfig, key: str) -> Any:
    """The value of the setting that ``apply_overrides`` sets for ``key``."""
    return getattr(*_holder(config, key))


def _holder(config: ExperimentConfig, key: str) -> tuple[Any, str]:
    """(the object that holds setting ``key``, its field name): ``data.<field>``/``train.<field>``,
    a bare field of either, or a top-level field."""
    data_fields = {f.name for f in dataclasses.fields(DataConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    top_fields = {f.name for f in dataclasses.fields(ExperimentConfig)} - {"data", "train"}
    section, _, name = key.rpartition(".")
    if section in ("data", "") and name in data_fields:
        return config.data, name
    if section in ("train", "") and name in train_fields:
        return config.train, name
    if not section and name in top_fields:
        return config, name
    raise unknown_name("setting", key, sorted(data_fields | train_fields | top_fields))


def whole_number_settings() -> tuple[set[str], set[str]]:
    """(fields that are whole numbers, those of them that may also be fractional: ``epochs`` 4.5),
    from the fields' annotations."""
    fields = [*dataclasses.fields(DataConfig), *dataclasses.fields(TrainConfig)]
    whole = {f.name for f in fields if annotation(f).startswith("int")}
    return whole, {f.name for f in fields if annotation(f) == "int | float"}


def transfer_settings() -> list[str]:
    """Settings that decide whether a recipe carries over to another network, in field order."""
    fields = [*dataclasses.fields(TrainConfig), *dataclasses.fields(DataConfig)]
    return [f.name for f in fields if f.metadata.get("transfers")]


def notebook_config(num_epochs, learning_rate, weight_decay, batch_size, patience, optimizer, options) -> TrainConfig:
    """The notebook's positional arguments plus any TrainConfig field by name."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    bad = sorted(set(options) - names)
    if bad:
        raise unknown_name("Trainer option", bad[0], sorted(names))
    # A torch.optim class (the notebook passed Optim=SGD) is recorded by its name.
    opt_name = optimizer if isinstance(optimizer, str) else optimizer.__name__.lower()
    return TrainConfig(
        epochs=num_epochs,
        lr=learning_rate,
        weight_decay=weight_decay,
        batch_size=batch_size,
        patience=patience,
        optimizer=opt_name,
        **options,
    )
