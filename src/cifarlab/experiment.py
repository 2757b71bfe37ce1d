"""Train one experiment from its config: data, model, trainer and run folder, wired together."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from .config.schema import ExperimentConfig
from .core.fileio import remove_temps
from .core.host import resolve_device
from .core.jupyter import in_notebook
from .data.cifar import CifarArrays, load_cifar10
from .data.splits import Splits, make_splits
from .models.registry import count_parameters, create_model
from .plots import LivePlot
from .runs.folder import RunLock, check_writable, default_run_name, new_run_dir, remove_if_unused
from .runs.store import LoadedRun, RunWriter, rewrite_metrics
from .training import distributed
from .training.budget import TTA_BUDGET_SHARE, BudgetGuard, BudgetPlan
from .training.budget import plan as budget_plan
from .training.checkpoint import CheckpointWriter, resume_hint
from .training.optim import check_optimizer_fits
from .training.trainer import Trainer


def run_experiment(
    config: ExperimentConfig,
    *,
    arrays: CifarArrays | None = None,
    resume: tuple[Path, dict[str, Any]] | None = None,
    callbacks: Iterable[Any] = (),
    progress: bool = True,
    report: bool = True,
    tensorboard: bool = False,
    log: Callable[[str], None] = print,
) -> LoadedRun:
    """Train ``config`` and write its run folder; return the finished run (``.path``, ``.summary``,
    ``.model``, ``.metrics``, ``.predict``), from memory.

    Everything that can be checked before training is checked first (settings, output folder, data,
    split sizes), so a bad input fails in seconds and leaves no half-made run folder behind.
    ``resume=(run_dir, checkpoint)`` continues that run in its own folder instead of making a new one.

    Launched by torchrun, every process calls this: each trains on its share of every batch, and only
    rank 0 loads first (it may download), writes the run folder and checkpoints, logs and reports.
    """
    config.validate()
    device = distributed.init_from_env(config.train.device, config.train.dist_timeout)
    main = distributed.is_main()
    if device is not None:
        distributed.check_sync_bn(config.train.sync_bn, device)
    else:
        resolve_device(config.train.device)  # an unavailable device fails before the run folder exists
    if not main:
        progress, report, tensorboard, log = False, False, False, lambda msg: None
    if tensorboard:
        from .runs.loggers import require_tensorboard

        require_tensorboard()  # before any work: a missing package fails in a second, not after training
    out = check_writable(config.out) if main else Path(config.out)
    arrays = arrays if arrays is not None else _load_data(config, progress)
    splits, model = check_setup(config, arrays)
    budget = None
    if config.train.time_budget is not None and resume is None:
        budget = plan_budget(config, splits, model, log)  # before the folder: a budget that cannot fit leaves none
    run_dir, lock = _claim_run_dir(config, out, resume)
    try:
        extra = {"time_budget": budget.as_dict()} if budget is not None else {}
        if budget is not None:
            callbacks = [
                *callbacks,
                BudgetGuard(budget.budget_s - budget.probe_s, budget.eval_s, log, budget.crop_ratio),
            ]
        return _train_in(
            run_dir, config, arrays, splits, model, resume, callbacks, progress, report, tensorboard, log, extra
        )
    except BaseException:
        if resume is None and main:
            remove_if_unused(run_dir)  # e.g. a full disk before config.json: no folder holding only .lock
        raise
    finally:
        if lock is not None:
            lock.release()


def _load_data(config: ExperimentConfig, progress: bool) -> CifarArrays:
    d = config.data
    if distributed.is_main():
        arrays = load_cifar10(d.data, offline=d.offline, progress=progress)
        distributed.barrier()
        return arrays
    distributed.barrier()  # rank 0 downloads and caches the data set first (and warns once)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_cifar10(d.data, offline=d.offline, progress=False)


def _claim_run_dir(config: ExperimentConfig, out: Path, resume) -> tuple[Path, RunLock | None]:
    """A new run folder (or the resumed one), locked by this process (rank 0) while it trains."""
    main = distributed.is_main()
    if resume is None:
        run_dir = new_run_dir(out, config.name or default_run_name(config)) if main else None
        run_dir = distributed.broadcast_object(run_dir)
        config.name = run_dir.name
        return run_dir, RunLock(run_dir).acquire() if main else None
    run_dir, checkpoint = resume
    if not main:
        return run_dir, None
    lock = RunLock(run_dir).acquire()  # a second process resuming this run is refused here
    remove_temps(run_dir)  # half-written files of a killed process (we hold the lock: nobody writes)
    # metrics.csv may hold an epoch finished after the checkpoint was taken: keep exactly its rows.
    rewrite_metrics(run_dir / "metrics.csv", checkpoint["history"])
    return run_dir, lock


def check_setup(config: ExperimentConfig, arrays: CifarArrays) -> tuple[Splits, torch.nn.Module]:
    """The checks that need the data, done before any run folder or study exists: the data selection
    (split sizes), the model with its options, and the optimizer on that model. Returns the splits and
    the freshly initialised model (its weights depend on the seed alone)."""
    d = config.data
    splits = make_splits(
        arrays,
        train_batches=d.train_batches,
        train_limit=d.train_limit,
        val_size=d.val_size,
        split_seed=d.split_seed,
        test_limit=d.test_limit,
    )
    torch.manual_seed(config.train.seed)
    model = create_model(config.model, num_classes=len(splits.classes), **config.model_kwargs)
    check_optimizer_fits(model, config.train)
    return splits, model


def plan_budget(config: ExperimentConfig, splits: Splits, model: torch.nn.Module, log) -> BudgetPlan:
    """Measure this machine and set ``config``'s epochs to what fits its time budget (budget.py)."""
    from .config.overrides import apply_overrides
    from .config.recipes import RECIPES
    from .core.errors import ConfigError

    if distributed.is_active():
        raise ConfigError("--time-budget measures one process; it cannot be combined with --nproc or torchrun yet")
    t = config.train
    eval_images = len(splits.test) + (len(splits.val) if splits.val is not None else 0)
    # the Trainer watches val (or test, the notebook's protocol) when it has it; else it keeps the last weights
    restores = t.restore_best and (splits.val is not None if t.select_on == "val" else True)
    # The zoo's recipes (those with settings for a budget) give up their test-time views when these
    # would cost over a tenth of it: flip TTA gains a few tenths of a point, and at 2 minutes it can take a
    # sixth of the budget (docs/zoo.md, "The rule under a budget"; fast's recipes were measured with theirs on).
    recipe = RECIPES.get(config.recipe or "")
    share = TTA_BUDGET_SHARE if recipe is not None and recipe.budget else None
    plan = budget_plan(t.time_budget, model, t, splits.train.x, splits.train.y, eval_images, restores, share)
    apply_overrides(config, {"epochs": plan.epochs, **({"tta": plan.tta} if plan.tta else {})})
    log(plan.line())
    return plan


def _train_in(
    run_dir, config, arrays, splits, model, resume, callbacks, progress, report, tensorboard, log, extra_summary
) -> LoadedRun:
    """Train into the (locked) run folder: writers, trainer, and how the run ended."""
    main = distributed.is_main()
    distributed.note_run_dir(run_dir)
    facts = {
        "data_source": arrays.source,
        "parameters": count_parameters(model),
        "train_images": len(splits.train),
        "val_images": len(splits.val) if splits.val is not None else 0,
        "test_images": len(splits.test),
        **extra_summary,
    }
    writers: list[Any] = []
    if main:
        writer = RunWriter(run_dir, config, splits.classes, extra_summary=facts)
        checkpoints = CheckpointWriter(run_dir, config.to_dict(), splits.classes)
        writers += [writer, checkpoints]
        if in_notebook():
            writers.append(LivePlot(run_dir.name))
    if tensorboard:
        from .runs.loggers import TensorBoardLogger

        writers.append(TensorBoardLogger(run_dir))
    trainer = Trainer(model, config=config.train, callbacks=[*writers, *callbacks], progress=progress, log=log)
    ranks = f" x {distributed.world_size()} processes" if distributed.is_active() else ""
    log(
        f"{run_dir}: {config.model} ({facts['parameters']:,} parameters) on {trainer.device}{ranks}; "
        f"{facts['train_images']} train / {facts['val_images']} val / {facts['test_images']} test images"
    )
    val = splits.val
    try:
        trainer.train(
            splits.train.x,
            splits.train.y,
            splits.test.x,
            splits.test.y,
            X_val=val.x if val is not None else None,
            y_val=val.y if val is not None else None,
            resume=resume[1] if resume is not None else None,
        )
    except BaseException as e:
        # Completed epochs are already in metrics.csv; say how the run ended, then let the error through.
        status = getattr(e, "run_status", None) or ("interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
        if main:
            with contextlib.suppress(Exception):  # a checkpoint still being written (CUDA) lands first
                checkpoints.close()
            writer.fail(trainer, status, e)
            if status != "pruned":
                log(f"{status}: {resume_hint(run_dir)}")
        raise
    summary = writer.summary if main else trainer.summary
    if report:
        from .analysis.report import write_report

        write_report(run_dir, arrays=arrays)  # evaluation files + report.html, after the timed training
    return LoadedRun(run_dir, trainer.net.eval(), config, list(splits.classes), summary)


def train(
    model: str,
    *,
    recipe: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    arrays: CifarArrays | None = None,
    progress: bool = True,
    report: bool = False,
    **settings: Any,
):
    """Train ``model`` with its own recipe (or ``recipe``) in one call; return the finished run.

    ``settings`` override the recipe by field name (``epochs=5``, ``lr=0.05``, ``val_size=1000``,
    ``out="runs"``; ``time_budget="10m"`` measures this machine and trains what fits). Returns a
    :class:`cifarlab.runs.store.LoadedRun`: ``.summary``, ``.metrics``, ``.model``, ``.predict(images)``.
    """
    from .config.recipes import resolve
    from .core.durations import parse_duration

    if isinstance(settings.get("time_budget"), str):
        settings["time_budget"] = parse_duration(settings["time_budget"])
    config = resolve(recipe, model, model_kwargs, settings)
    return run_experiment(config, arrays=arrays, progress=progress, report=report)
