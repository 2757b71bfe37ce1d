"""Search spaces: the settings a study searches (``--param lr=1e-4..1e-1:log``, a range or a list), the
default space around a recipe's values, and the grid a grid search walks."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..config.overrides import apply_overrides, get_setting, whole_number_settings
from ..config.schema import ExperimentConfig
from ..core.errors import CifarlabError, ConfigError

# -- search spaces --------------------------------------------------------------------------------

# Whole-number settings, from the config's annotations; ``epochs`` may also be fractional (4.5): a
# range with whole bounds samples whole numbers, one with a fractional bound any value in between.
INT_FIELDS, MAY_BE_FRACTIONAL = whole_number_settings()


@dataclass(frozen=True)
class Param:
    """One searched setting: a float/int range (optionally log-scaled) or a list of choices."""

    name: str
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.kind == "categorical":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return self.low <= value <= self.high and (self.kind == "float" or float(value).is_integer())

    def spec(self) -> str:
        if self.kind == "categorical":
            return f"{self.name}={','.join(map(str, self.choices))}"
        return (
            f"{self.name}={self.low:g}..{self.high:g}"
            + (":log" if self.log else "")
            + (":int" if self.kind == "int" and self.name.rpartition(".")[2] not in INT_FIELDS else "")
        )


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--param {spec}: '{text}' is not a number; write e.g. lr=1e-4..1e-1:log") from None


def parse_param(spec: str) -> Param:
    """``lr=1e-4..1e-1:log``, ``epochs=2..8`` (int fields stay int; ``epochs=3.5..5`` is a float range),
    ``x=0..1:int``, ``batch_size=64,128,256``."""
    name, sep, rhs = spec.partition("=")
    name = name.strip()
    if not sep or not name or not rhs.strip():
        raise ConfigError(f"--param '{spec}' must be NAME=LOW..HIGH[:log] or NAME=A,B,C (e.g. lr=1e-4..1e-1:log)")
    _check_field(name)
    rhs, *flags = [part.strip() for part in rhs.split(":")]
    bad = [f for f in flags if f not in ("log", "int")]
    if bad:
        raise ConfigError(f"--param {spec}: unknown option ':{bad[0]}' (use :log and/or :int)")
    if ".." in rhs:
        lo_text, _, hi_text = rhs.partition("..")
        low, high = _number(lo_text, spec), _number(hi_text, spec)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigError(f"--param {spec}: the range needs LOW < HIGH")
        log = "log" in flags
        if log and low <= 0:
            raise ConfigError(f"--param {spec}: a :log range must be positive")
        whole = low.is_integer() and high.is_integer()
        field = name.rpartition(".")[2]
        is_int = "int" in flags or (field in INT_FIELDS and (whole or field not in MAY_BE_FRACTIONAL))
        if is_int and not whole:
            raise ConfigError(f"--param {spec}: {name} takes whole numbers")
        return Param(name, "int" if is_int else "float", low, high, log)
    if flags:
        raise ConfigError(f"--param {spec}: :log/:int apply to ranges LOW..HIGH, not to a list of choices")
    choices = tuple(_choice(c.strip()) for c in rhs.split(","))
    if len(choices) < 2 or any(c == "" for c in choices):
        raise ConfigError(f"--param {spec}: give a range LOW..HIGH or at least two comma-separated choices")
    return Param(name, "categorical", choices=choices)


def _choice(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _check_field(name: str) -> None:
    try:
        apply_overrides(ExperimentConfig(), {name: None})
    except CifarlabError as e:
        raise ConfigError(f"--param {name}: {e}") from None


def default_space(config: ExperimentConfig) -> list[Param]:
    """A search space centred on the recipe's own values: LR and weight decay a decade either side
    (log scale), the batch size halved or doubled; plus label smoothing for the fast recipes."""
    t = config.train
    wd = t.weight_decay if t.weight_decay > 0 else 1e-4
    space = [
        Param("lr", "float", t.lr / 10, t.lr * 10, log=True),
        Param("weight_decay", "float", wd / 10, wd * 10, log=True),
        Param("batch_size", "categorical", choices=(max(t.batch_size // 2, 1), t.batch_size, t.batch_size * 2)),
    ]
    if t.label_smoothing > 0:
        space.append(Param("label_smoothing", "float", 0.0, 0.3))
    return space


# -- the study ------------------------------------------------------------------------------------


def baseline_params(config: ExperimentConfig, space: Sequence[Param]) -> dict[str, Any]:
    """The searched settings as ``config`` has them (recipe plus flags): the first trial of a study
    started with ``--baseline``, so every other trial is compared with the settings it started from."""
    params = {}
    for p in space:
        value = get_setting(config, p.name)
        if not p.contains(value):
            raise ConfigError(
                f"--baseline: {p.name} is {value!r} here, outside --param {p.spec()}; "
                f"widen the range or set --{p.name.rpartition('.')[2].replace('_', '-')} inside it"
            )
        params[p.name] = int(value) if p.kind == "int" else value
    return params


def space_signature(space: Sequence[Param]) -> list[dict[str, Any]]:
    return [{**asdict(p), "choices": list(p.choices)} for p in sorted(space, key=lambda p: p.name)]


def _grid(space: Sequence[Param]) -> dict[str, list[Any]]:
    ranges = [p.spec() for p in space if p.kind != "categorical"]
    if ranges:
        raise ConfigError(f"--sampler grid takes lists of values; write e.g. lr=0.05,0.1,0.2 instead of {ranges[0]}")
    return {p.name: list(p.choices) for p in space}
