"""Train one experiment from its config: data, model, trainer and run folder, wired together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from .config import ExperimentConfig
from .data import CifarArrays, load_cifar10, make_splits
from .models import count_parameters, create_model
from .plots import LivePlot, in_notebook
from .runs import RunWriter, atomic_write_json, check_writable, default_run_name, new_run_dir
from .trainer import Trainer


def run_experiment(
    config: ExperimentConfig,
    *,
    arrays: CifarArrays | None = None,
    callbacks: Iterable[Any] = (),
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Train ``config`` and write its run folder; return the folder's path.

    Everything that can be checked before training is checked first (settings, output folder, data,
    split sizes), so a bad input fails in seconds and leaves no half-made run folder behind.
    """
    config.validate()
    out = check_writable(config.out)
    if arrays is None:
        d = config.data
        arrays = load_cifar10(d.data, offline=d.offline, progress=progress)
    d = config.data
    splits = make_splits(
        arrays, train_batches=d.train_batches, train_limit=d.train_limit, val_size=d.val_size, split_seed=d.split_seed
    )
    run_dir = new_run_dir(out, config.name or default_run_name(config))
    config.name = run_dir.name

    torch.manual_seed(config.train.seed)  # the model's initial weights depend on the seed alone
    model = create_model(config.model, num_classes=len(splits.classes), **config.model_kwargs)
    sizes = {
        "train_images": len(splits.train),
        "val_images": len(splits.val) if splits.val is not None else 0,
        "test_images": len(splits.test),
    }
    writer = RunWriter(
        run_dir, config, splits.classes,
        extra_summary={"data_source": arrays.source, "parameters": count_parameters(model), **sizes},
    )  # fmt: skip
    extra = [LivePlot(run_dir.name)] if in_notebook() else []
    trainer = Trainer(model, config=config.train, callbacks=[writer, *extra, *callbacks], progress=progress, log=log)
    log(
        f"{run_dir}: {config.model} ({count_parameters(model):,} parameters) on {trainer.device}; "
        f"{sizes['train_images']} train / {sizes['val_images']} val / {sizes['test_images']} test images"
    )
    try:
        trainer.train(
            splits.train.x, splits.train.y, splits.test.x, splits.test.y,
            X_val=splits.val.x if splits.val is not None else None,
            y_val=splits.val.y if splits.val is not None else None,
        )  # fmt: skip
    except BaseException as e:
        # Completed epochs are already in metrics.csv; say how the run ended, then let the error through.
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        atomic_write_json(
            run_dir / "summary.json",
            {"name": run_dir.name, "model": config.model, "recipe": config.recipe, "status": status,
             "error": f"{type(e).__name__}: {e}", "epochs_run": len(trainer.history)},
        )  # fmt: skip
        raise
    return run_dir


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "summary.json").read_text())
