"""Hyperparameter search on Optuna: a TPE sampler, a pruner fed validation accuracy, shared storage.

A study lives in an Optuna storage: by default an SQLite file ``OUT/tune/STUDY.db`` (nothing to
start), or any SQLAlchemy URL (PostgreSQL for workers on several machines). Every ``cifarlab tune``
process pointed at the same study and storage adds its trials to it; Optuna's storage hands out trial
numbers, so workers never collide. Each trial is an ordinary run folder ``OUT/tune/STUDY/trial-NNNN``.
The objective is the best *validation* accuracy of the trial's run; test accuracy is never used.

A worker that dies mid-trial (kill -9, a lost machine) cannot mark its trial finished. Every worker
records a heartbeat for its running trial (Optuna's, every :data:`HEARTBEAT_INTERVAL_S`); when any
worker starts a trial, trials silent for :data:`GRACE_PERIOD_S` become FAIL. They are not retried on
purpose: the kill may come from the trial's own settings (memory for a large batch), and a retry would
then kill the next worker too; the sampler moves on (a grid counts the point as done), and the trial's
run folder keeps its completed epochs (``cifarlab train --resume`` continues it).
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..config.checks import check_name
from ..config.overrides import apply_overrides, get_setting, whole_number_settings
from ..config.schema import ExperimentConfig
from ..core.errors import CifarlabError, ConfigError
from ..core.fileio import atomic_write_bytes, atomic_write_json

# Optuna's heartbeat (integers, seconds): every worker must use the same values, or one with a shorter
# grace would fail another's live trials. The grace allows two missed beats (a busy database).
HEARTBEAT_INTERVAL_S = 60
GRACE_PERIOD_S = 180


class TuneError(CifarlabError):
    """A study that cannot be used as asked."""


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError("tuning needs Optuna: pip install optuna (a dependency of cifarlab)") from None
    return optuna


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


def default_storage(out: str | Path, study: str) -> str:
    folder = Path(out) / "tune"
    return f"sqlite:///{(folder / f'{study}.db').resolve()}"


def open_storage(url: str):
    """An Optuna RDB storage for ``url`` with heartbeats on (a dead worker's trial becomes FAIL), or
    one line saying why it cannot be used."""
    optuna = require_optuna()
    from sqlalchemy.exc import IntegrityError

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(6):
        try:
            with warnings.catch_warnings():  # "heartbeat is experimental": in Optuna since 2.9, and ours to watch
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=_engine_kwargs(url),
                    heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=GRACE_PERIOD_S,
                )
        except Exception as e:  # noqa: BLE001 - sqlalchemy/driver errors of many kinds, one answer
            error: Exception = e
            if not (isinstance(e, IntegrityError) or _lost_schema_race(getattr(e, "orig", None))):
                break  # anything else will not go away by retrying
            time.sleep(0.2 * (attempt + 1))
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise TuneError(
        f"cannot use the study storage {_redact(url)}: {reason}; check that the database server is running "
        "and the URL (e.g. postgresql://user:password@host:5432/dbname) is right"
    )


# SQLSTATEs of "that table / type / key already exists" (PostgreSQL's messages are translated, its codes are not).
_DUPLICATE_SQLSTATES = {"42P07", "42710", "23505"}


def _lost_schema_race(driver_error: BaseException | None) -> bool:
    """Whether a driver error says another worker created Optuna's schema first.

    Several workers started at once on an empty database all create Optuna's tables; the losers see
    a duplicate table, type (PostgreSQL's enum studydirection) or key. The schema is there now, so
    trying again works. PostgreSQL errors are told by their SQLSTATE; SQLite has no such code, but
    its messages are always English ("table studies already exists").
    """
    code = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if code is not None:
        return code in _DUPLICATE_SQLSTATES
    return isinstance(driver_error, sqlite3.OperationalError) and "already exists" in str(driver_error)


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}


def _redact(url: str) -> str:
    """The URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{tail}" if ":" in userinfo else url


def load_study(name: str, storage_url: str):
    optuna = require_optuna()
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise TuneError(
            f"no study '{name}' in {_redact(storage_url)}; run 'cifarlab tune --study {name}' first, "
            "or pass the study's --storage URL"
        ) from None


def space_signature(space: Sequence[Param]) -> list[dict[str, Any]]:
    return [{**asdict(p), "choices": list(p.choices)} for p in sorted(space, key=lambda p: p.name)]


class _Pruned(Exception):
    run_status = "pruned"  # how run_experiment records the trial's run folder


@dataclass
class TuneResult:
    study: str
    storage: str
    folder: Path
    trials: int  # trials in the study (all workers), any state
    completed: int
    pruned: int
    best_value: float | None
    best_params: dict[str, Any] | None
    best_trial: int | None
    failed: int = 0  # raised an error, or their worker died (heartbeat older than GRACE_PERIOD_S)
    running: int = 0  # in another worker now, or in a dead one whose grace has not run out


def _check_before_study(config: ExperimentConfig, space: Sequence[Param]):
    """Everything a trial could trip on, checked before the study exists: the settings, the device,
    the data selection, the model and its optimizer, for the fixed config and at both ends of every
    searched range. Returns the loaded data set."""
    from ..core.host import resolve_device
    from ..data.cifar import load_cifar10
    from ..experiment import check_setup

    config.validate()
    if config.train.select_on == "test" or config.train.target_acc is not None:
        raise ConfigError("tuning never looks at test accuracy: drop --select-on test and --target-acc")
    if config.data.val_size <= 0:
        raise ConfigError("tuning maximises validation accuracy: --val-size must be above 0 (default 5000)")
    resolve_device(config.train.device)
    arrays = load_cifar10(config.data.data, offline=config.data.offline, progress=False)
    check_setup(config, arrays)
    for p in space:
        for value in p.choices or (p.low, p.high):
            trial_config = apply_overrides(ExperimentConfig.from_dict(config.to_dict()), {p.name: value})
            try:
                check_setup(trial_config.validate(), arrays)
            except CifarlabError as e:
                raise ConfigError(f"--param {p.spec()}: {value!r} gives an invalid setting ({e})") from None
    return arrays


def tune(
    config: ExperimentConfig,
    *,
    space: Sequence[Param] | None = None,
    trials: int = 20,
    study: str | None = None,
    storage: str | None = None,
    timeout: float | None = None,
    clean_pruned: bool = False,
    pruner: Any = "median",
    sampler_seed: int | None = None,
    sampler: str = "tpe",
    baseline: bool = False,
    log: Callable[[str], None] = print,
) -> TuneResult:
    """Run ``trials`` trials of ``config`` (a recipe with fixed overrides) in this process.

    ``space`` defaults to :func:`default_space`; ``pruner`` is ``"median"``, ``"none"`` or an Optuna
    pruner; ``baseline`` queues the config's own values as a trial first (once per study, however
    many workers ask). ``sampler="grid"`` tries every combination of the (categorical) space once,
    shared between workers; a finished grid starts no more trials. Returns the study's state after this
    worker's trials (others may still be running).
    """
    optuna = require_optuna()

    if trials <= 0:
        raise ConfigError(f"--trials must be a positive number, got {trials}")
    space = list(space) if space else default_space(config)
    grid = _grid(space) if sampler == "grid" else None
    first = baseline_params(config, space) if baseline else None
    name = check_name(study or config.recipe or config.model, "--study")
    arrays = _check_before_study(config, space)
    url = storage or default_storage(config.out, name)
    folder = Path(config.out) / "tune" / name
    the_study = _create_study(optuna, name, url, pruner, sampler_seed, grid)
    _check_same_space(the_study, space, config, url)
    folder.mkdir(parents=True, exist_ok=True)
    if first is not None:
        the_study.enqueue_trial(first, skip_if_exists=True)
        log(f"baseline trial (queued once per study): {', '.join(f'{k}={v}' for k, v in first.items())}")

    objective = _objective(config, space, folder, arrays, clean_pruned, log)
    from ..training.step import TrainingDiverged

    the_study.optimize(objective, n_trials=trials, timeout=timeout, catch=(TrainingDiverged,))
    result = summarise(the_study, url, folder)
    write_outputs(the_study, result)
    return result


def _grid(space: Sequence[Param]) -> dict[str, list[Any]]:
    ranges = [p.spec() for p in space if p.kind != "categorical"]
    if ranges:
        raise ConfigError(f"--sampler grid takes lists of values; write e.g. lr=0.05,0.1,0.2 instead of {ranges[0]}")
    return {p.name: list(p.choices) for p in space}


def _create_study(optuna, name: str, url: str, pruner: Any, sampler_seed: int | None, grid=None):
    if grid is not None:
        # Optuna's GridSampler hands each combination out once across workers sharing the storage,
        # and stops the study when the grid is done.
        sampler = optuna.samplers.GridSampler(grid, seed=sampler_seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    if pruner == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    elif pruner in ("none", None):
        pruner = optuna.pruners.NopPruner()
    try:
        return optuna.create_study(
            study_name=name,
            storage=open_storage(url),
            direction="maximize",
            load_if_exists=True,
            sampler=sampler,
            pruner=pruner,
        )
    except TuneError:
        raise
    except Exception as e:  # noqa: BLE001 - e.g. the server went away between connect and create
        raise TuneError(f"cannot create or load study '{name}' in {_redact(url)}: {str(e).splitlines()[0]}") from None


def _objective(config: ExperimentConfig, space: Sequence[Param], folder: Path, arrays, clean_pruned: bool, log):
    """One trial: train ``config`` with the trial's parameters; its best validation accuracy."""
    import optuna

    from ..experiment import run_experiment

    def objective(trial) -> float:
        params = {p.name: p.suggest(trial) for p in space}
        cfg = apply_overrides(ExperimentConfig.from_dict(config.to_dict()), params)
        cfg.name, cfg.out = f"trial-{trial.number:04d}", str(folder)
        trial.set_user_attr("run_dir", str(folder / cfg.name))

        class Report:  # a Trainer callback: validation accuracy to the pruner after every epoch
            def on_epoch_end(self, trainer, row) -> None:
                if math.isnan(row["val_acc"]):
                    return  # epochs before --eval-from are not evaluated
                trial.report(row["val_acc"], int(row["epoch"]))
                if trial.should_prune():
                    raise _Pruned(f"pruned after epoch {int(row['epoch'])}")

        try:
            run = run_experiment(
                cfg,
                arrays=arrays,
                callbacks=[Report()],
                progress=False,
                report=False,
                log=lambda msg: log(f"[trial {trial.number}] {msg}"),
            )
        except _Pruned as e:
            if clean_pruned:
                shutil.rmtree(folder / cfg.name, ignore_errors=True)
            raise optuna.TrialPruned(str(e)) from None
        summary = run.summary
        trial.set_user_attr("test_acc", summary["test_acc"])  # reported beside, never optimised
        return float(summary["best_val_acc"])

    return objective


def _check_same_space(the_study, space: Sequence[Param], config: ExperimentConfig, url: str) -> None:
    signature = space_signature(space)
    fixed = {k: v for k, v in config.to_dict().items() if k not in ("name",)}
    saved = the_study.user_attrs.get("search_space")
    if saved is None:
        the_study.set_user_attr("search_space", signature)
        the_study.set_user_attr("config", fixed)
        the_study.set_user_attr("recipe", config.recipe)
        return
    if saved != signature:
        ours = " ".join(p.spec() for p in space)
        theirs = " ".join(Param(**{**d, "choices": tuple(d["choices"])}).spec() for d in saved)
        raise TuneError(
            f"study '{the_study.study_name}' in {_redact(url)} searches {theirs}, not {ours}; "
            "use the same --param flags, or a new --study name"
        )


def summarise(the_study, url: str, folder: Path) -> TuneResult:
    optuna = require_optuna()
    all_trials = the_study.get_trials(deepcopy=False)
    states = [t.state for t in all_trials]
    complete = [t for t in all_trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    return TuneResult(
        study=the_study.study_name,
        storage=_redact(url),
        folder=folder,
        trials=len(all_trials),
        completed=len(complete),
        pruned=states.count(optuna.trial.TrialState.PRUNED),
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else None,
        best_trial=best.number if best else None,
        failed=states.count(optuna.trial.TrialState.FAIL),
        running=states.count(optuna.trial.TrialState.RUNNING),
    )


TRIAL_COLUMNS = ("number", "state", "value", "val_acc_last_reported", "test_acc", "seconds", "run_dir")


def write_outputs(the_study, result: TuneResult) -> None:
    """``best_params.json``, ``trials.csv``, ``history.png`` and ``importance.png`` in the study folder."""
    folder = result.folder
    trials = the_study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    lines = [",".join([*TRIAL_COLUMNS[:3], *names, *TRIAL_COLUMNS[3:]])]
    for t in trials:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else ""
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else ""
        row = [
            t.number,
            t.state.name,
            "" if t.value is None else t.value,
            *[t.params.get(n, "") for n in names],
            last,
            t.user_attrs.get("test_acc", ""),
            seconds,
            t.user_attrs.get("run_dir", ""),
        ]
        lines.append(",".join(_csv_cell(v) for v in row))
    atomic_write_bytes(folder / "trials.csv", ("\n".join(lines) + "\n").encode())
    atomic_write_json(
        folder / "best_params.json",
        {
            "study": result.study,
            "storage": result.storage,
            "best_trial": result.best_trial,
            "best_val_acc": result.best_value,
            "params": result.best_params,
            "trials": result.trials,
            "completed": result.completed,
            "pruned": result.pruned,
            "failed": result.failed,
            "running": result.running,
            "recipe": the_study.user_attrs.get("recipe"),
        },
    )
    from ..plots import tune_history_figure, tune_importance_figure

    tune_history_figure(trials, folder / "history.png", title=f"study {result.study}")
    importances = _importances(the_study)
    if importances:
        tune_importance_figure(importances, folder / "importance.png", title=f"study {result.study}")


def _importances(the_study) -> dict[str, float] | None:
    """fANOVA importances (Optuna's own implementation); None until enough trials completed."""
    optuna = require_optuna()
    complete = [t for t in the_study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return None
    try:
        return optuna.importance.get_param_importances(the_study)
    except (RuntimeError, ValueError):  # e.g. every completed trial had the same parameters
        return None


def _csv_cell(v: Any) -> str:
    text = f"{v:.6g}" if isinstance(v, float) else str(v)
    return f'"{text}"' if ("," in text or '"' in text) else text


def config_from_study(
    study: str,
    *,
    storage: str | None = None,
    out: str = "runs",
    recipe: str | None = None,
    model: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> ExperimentConfig:
    """``cifarlab train --from-study``: the study's recipe (or ``recipe``), its best parameters, then
    ``overrides``, which win over the study's parameters of the same name."""
    from ..config.recipes import resolve

    check_name(study, "--from-study")  # it names a file under --out
    url = storage or default_storage(out, study)
    if not storage and not Path(url[len("sqlite:///") :]).exists():
        raise TuneError(f"no study file {url[len('sqlite:///') :]}; pass --storage URL or the --out used with tune")
    the_study = load_study(study, url)
    result = summarise(the_study, url, Path(out))
    if result.best_params is None:
        raise TuneError(f"study '{study}' has no completed trial yet; let 'cifarlab tune' finish one")
    overrides = dict(overrides or {})
    config = resolve(recipe or the_study.user_attrs.get("recipe"), model, model_kwargs, overrides)
    params = {k: v for k, v in result.best_params.items() if k.rpartition(".")[2] not in overrides}
    apply_overrides(config, params)
    log(
        f"study {study}: best trial {result.best_trial} (val acc {100 * result.best_value:.2f}%), "
        f"training with {json.dumps(params)}"
    )
    return config.validate()
