"""Hyperparameter search on Optuna: a TPE sampler, a pruner fed validation accuracy, shared storage.

A study lives in an Optuna storage: by default an SQLite file ``OUT/tune/STUDY.db`` (nothing to
start), or any SQLAlchemy URL (PostgreSQL for workers on several machines). Every ``cifarlab tune``
process pointed at the same study and storage adds its trials to it; Optuna's storage hands out trial
numbers, so workers never collide. Each trial is an ordinary run folder ``OUT/tune/STUDY/trial-NNNN``.
The objective is the best *validation* accuracy of the trial's run; test accuracy is never used.

A worker that dies mid-trial (kill -9, a lost machine) cannot mark its trial finished. Every worker
records a heartbeat for its running trial (Optuna's, every ``study_storage.HEARTBEAT_INTERVAL_S``); when any
worker starts a trial, trials silent for ``GRACE_PERIOD_S`` become FAIL. They are not retried on
purpose: the kill may come from the trial's own settings (memory for a large batch), and a retry would
then kill the next worker too; the sampler moves on (a grid counts the point as done), and the trial's
run folder keeps its completed epochs (``cifarlab train --resume`` continues it).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.checks import check_name
from ..config.overrides import apply_overrides
from ..config.schema import ExperimentConfig
from ..core.errors import CifarlabError, ConfigError
from ..core.fileio import atomic_write_bytes, atomic_write_json
from .search_space import Param, _grid, baseline_params, default_space, space_signature
from .study_storage import TuneError, _redact, default_storage, load_study, open_storage, require_optuna


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
