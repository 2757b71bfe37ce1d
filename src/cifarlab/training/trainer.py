"""The Trainer: the notebook's API over an epoch loop that fits on a screen.

``Trainer(net, num_epochs=20, learning_rate=0.1, weight_decay=0, batch_size=256, patience=-1,
loss=..., optimizer=...)`` and ``.train(X, y, X_test, y_test)`` work as in the notebook; ``.history``
holds one row per epoch. This module owns the run's state and its order of events: what is built
once (``__init__``: device, precision, layout, optimizer; :meth:`Trainer.setup`: data on the device,
the plan of steps, data-dependent init, data-parallel wrapping, a resumed state), the epoch loop,
model selection and early stopping, checkpoint state and the summary. The steps themselves are in
training/step.py, the batches in loader.py, the optimizer pieces in optim.py.

What changed from the notebook underneath:

- Data stays a tensor on the training device; a batch is a shuffled index slice (loader.py).
- Early stopping and best-weight selection watch *validation* accuracy (``select_on='val'``); the
  notebook watched test accuracy, which ``select_on='test'`` reproduces.
- No host synchronisation inside the step loop: losses and hit counts accumulate on the device and
  are read once per epoch.
"""

from __future__ import annotations

import copy
import importlib
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from ..config.overrides import notebook_config
from ..config.schema import TrainConfig
from ..core.errors import CifarlabError, ConfigError
from ..core.host import host_info, resolve_device
from ..core.jupyter import progress_bar
from ..data.augmix import jsd_loss
from . import distributed
from .checkpoint import restore_trainer_state, trainer_state
from .device import grad_scaler, keep_cpu_allocations, resolve_amp, resolve_channels_last, tune_cuda
from .hard_examples import HardSelector
from .history import EarlyStopping, History, epoch_line
from .loader import DeviceLoader
from .optim import Lookahead, build_loss, build_optimizer, param_groups
from .plan import StepPlan
from .schedules import lr_factor
from .step import TrainingDiverged, evaluate, train_one_epoch


class Trainer:
    """Train a classifier on tensors that stay on the device.

    Callbacks are objects with any of ``on_train_begin(trainer)``, ``on_epoch_end(trainer, row)``,
    ``on_step_end(trainer)`` (after every optimizer step: keep it cheap) and ``on_train_end(trainer,
    summary)``; :class:`cifarlab.runs.store.RunWriter` is one. In
    ``on_epoch_end``, ``trainer.stopper.best_epoch == row["epoch"]`` says the epoch improved.
    """

    def __init__(
        self,
        net: nn.Module,
        num_epochs: int = 20,
        learning_rate: float = 0.1,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        patience: int = -1,
        loss: Callable | type | None = None,
        optimizer: str | type = "sgd",
        *,
        config: TrainConfig | None = None,
        callbacks: Iterable[Any] = (),
        progress: bool = True,
        log: Callable[[str], None] | None = print,
        **options: Any,
    ):
        if config is None:
            config = notebook_config(num_epochs, learning_rate, weight_decay, batch_size, patience, optimizer, options)
        config.validate(check_optimizer=not isinstance(optimizer, type))
        self.config = cfg = config
        self.loss_fn = build_loss(loss, cfg.label_smoothing)
        if cfg.augmix_jsd > 0:
            self.loss_fn = jsd_loss(self.loss_fn, cfg.augmix_jsd)
        self.callbacks = list(callbacks)
        self.progress = progress
        self.log = log or (lambda msg: None)
        self.device = resolve_device(cfg.device)
        if distributed.is_active() and self.device.type == "cuda":
            self.device = torch.device("cuda", torch.cuda.current_device())  # this rank's GPU (LOCAL_RANK)
        self.net = net = self._place(net)
        # The compiled module shares parameters with self.net; state_dicts are taken from self.net.
        # Evaluation runs it without DDP: each process evaluates its share of the images, no collectives.
        self.eval_model = torch.compile(net) if cfg.compile else net
        self.forward = self.eval_model  # wrapped for data-parallel training in setup()
        # The first optimizer a process builds makes torch import its compiler stack (torch._dynamo,
        # sympy: seconds, once per process): start-up, not training, like building the model.
        importlib.import_module("torch._dynamo")
        # A torch.optim class (the notebook's Optim=SGD) is used as given; otherwise the config names it.
        spec = optimizer if isinstance(optimizer, type) else cfg.optimizer
        self.optimizer = build_optimizer(spec, param_groups(net, cfg), cfg)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.scaler = grad_scaler(self.device, self.amp_dtype)
        self.history = History()
        self.summary: dict[str, Any] = {}
        self.stopper = EarlyStopping(cfg.patience, cfg.min_delta)
        self.lr, self.lr_factor = self.base_lrs[0], 1.0
        # --keep-hard: a proxy network picks the hardest share of each batch (training/hard_examples.py)
        self.selector = (
            HardSelector(cfg, spec, self.device, self.amp_dtype, self.channels_last) if cfg.keep_hard < 1 else None
        )
        # Set by setup(), from the data: what the loop reads.
        self.loader: DeviceLoader | None = None
        self.sets: dict[str, tuple[torch.Tensor, torch.Tensor] | None] = {"val": None, "test": None}
        self.watched = "val" if cfg.select_on == "val" else "test"
        self.plan: StepPlan | None = None  # the steps, epochs, crops and evaluations; a budget guard resizes it
        self.lookahead: Lookahead | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.seconds_to_target: float | None = None
        self._step_hooks: list[Callable[[Trainer], None]] = []

    def _place(self, net: nn.Module) -> nn.Module:
        """``net`` on the device, in the run's precision and memory layout (and SyncBatchNorm's)."""
        cfg = self.config
        self.amp_dtype = resolve_amp(cfg.amp, self.device)
        self.channels_last = resolve_channels_last(cfg.channels_last, net)
        net = net.to(self.device)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        if cfg.sync_bn and distributed.world_size() > 1:
            distributed.check_sync_bn(True, self.device)
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        return net

    # -- the loop ---------------------------------------------------------------------------------

    def train(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        X_test: torch.Tensor | None = None,
        y_test: torch.Tensor | None = None,
        *,
        X_val: torch.Tensor | None = None,
        y_val: torch.Tensor | None = None,
        resume: dict[str, Any] | None = None,
    ) -> History:
        """Train on (X, y); evaluate validation and test sets after every epoch.

        Images are ``(N, 3, 32, 32)``, uint8 or float in [0, 1]; labels int64. Returns the history.
        ``resume``: a :meth:`checkpoint_state` dict; training continues after its last epoch exactly
        as if it had never stopped (same shuffles, augmentations, dropout masks and LR steps).
        """
        self.setup(X, y, X_test, y_test, X_val=X_val, y_val=y_val, resume=resume)
        self._step_hooks = [cb.on_step_end for cb in self.callbacks if hasattr(cb, "on_step_end")]
        self._call("on_train_begin")
        epoch = len(self.history) + 1
        while epoch <= self.plan.last_epoch:  # a time budget's guard may resize the plan
            row = {"epoch": epoch, **self.train_epoch(epoch)}
            row.update(self.evaluate_epoch(epoch), lr=row.pop("lr"), seconds=row.pop("seconds"))
            self.history.append(row)
            self._select(row)
            self.log(epoch_line(row, self.plan.steps_in(row["epoch"]), self.plan.steps_per_epoch, self.plan.last_epoch))
            reached = self.config.target_acc is not None and row["test_acc"] >= self.config.target_acc
            if reached:
                self.seconds_to_target = self.plan.elapsed()
            self._call("on_epoch_end", row)
            if reached:
                self.log(
                    f"target test accuracy {self.config.target_acc:.4f} reached after {self.seconds_to_target:.1f}s"
                )
                break
            if self.stopper.should_stop:
                cfg = self.config
                self.log(f"early stop: no {self.watched} accuracy gain > {cfg.min_delta} in {cfg.patience} epochs")
                break
            epoch += 1
        if self.best_state is not None and self.stopper.best_epoch != len(self.history):
            self.net.load_state_dict(self.best_state)
        self.summary = self._summary(self.plan.elapsed())
        self._call("on_train_end", self.summary)
        return self.history

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Train one epoch (the whole of it, or the first batches of a partial last one)."""
        self.net.train()
        if hasattr(self.net, "epoch_hook"):
            self.net.epoch_hook(epoch)  # e.g. fastnet freezes its whitening bias after a few epochs
        plan = self.plan
        first_step = plan.done
        steps = plan.steps_in(epoch)  # at the start: a budget's guard may resize the plan during the epoch
        # A notebook widget in Jupyter (text without ipywidgets), a text bar on a terminal, none in a pipe.
        bar = progress_bar(
            total=steps,
            desc=f"epoch {epoch}/{plan.last_epoch}",
            leave=False,
            disable=None if self.progress and distributed.is_main() else True,
        )
        select = None
        if self.selector is not None:
            self.selector.epoch_hook(epoch)
            select = lambda xb, yb: self.selector(xb, yb, plan.done, self.lr_factor)  # noqa: E731
        t0 = time.perf_counter()
        loss_sum, correct, trained = train_one_epoch(
            self.forward,
            self.loss_fn,
            self.optimizer,
            self.scaler,
            self.loader.epoch(
                epoch,
                lambda: plan.steps_in(epoch),
                crops=lambda: plan.crop_steps - (epoch - 1) * plan.steps_per_epoch,
            ),
            amp_dtype=self.amp_dtype,
            before_step=self._set_lr,
            after_step=lambda: self._after_step(bar),
            select=select,
        )
        loss_sum, correct = distributed.all_reduce_sum(loss_sum, correct)  # sums over processes
        # with --keep-hard (one process only) the statistics cover the examples trained on
        seen = self.loader.images_in(plan.done - first_step) if self.selector is None else trained
        train_loss = loss_sum.item() / seen  # the one host sync of the epoch
        seconds = time.perf_counter() - t0
        bar.close()
        if not math.isfinite(train_loss):
            hint = f"lower the learning rate (--lr {self.config.lr:g})"
            raise TrainingDiverged(f"training loss became {train_loss} in epoch {epoch}; {hint}")
        if self.lookahead is not None and epoch == plan.last_epoch:
            self.lookahead.finish(self.net)  # end on the averaged weights
        return {"train_loss": train_loss, "train_acc": correct.item() / seen, "lr": self.lr, "seconds": seconds}

    def evaluate_epoch(self, epoch: int) -> dict[str, float]:
        """Validation and test loss and accuracy (NaN where there is no such set or the recipe skips
        this epoch's evaluation: ``eval_from``; the last epoch is always evaluated)."""
        now = epoch >= self.plan.eval_from or epoch == self.plan.last_epoch
        distributed.broadcast_buffers(self.net)  # rank 0's BatchNorm statistics everywhere (and in model.pt)
        row = {}
        for split in ("val", "test"):
            data = self.sets[split]
            loss, acc = self.evaluate(*data) if data is not None and now else (math.nan, math.nan)
            row[f"{split}_loss"], row[f"{split}_acc"] = loss, acc
        return row

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean loss and accuracy on (x, y) with the run's test-time views, precision and layout."""
        cfg = self.config

        def run(xs, ys):
            return evaluate(
                self.eval_model,
                xs,
                ys,
                cfg.eval_batch_size,
                tta=cfg.tta,
                amp_dtype=self.amp_dtype,
                channels_last=self.channels_last,
            )

        return distributed.evaluate_sharded(run, x, y)

    def _set_lr(self) -> None:
        cfg = self.config
        factor = lr_factor(
            self.plan.done,
            self.plan.total,
            cfg.schedule,
            warmup_steps=self.plan.warmup,
            steps_per_epoch=self.plan.steps_per_epoch,
            step_size=cfg.step_size,
            gamma=cfg.gamma,
        )
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
        self.lr, self.lr_factor = self.base_lrs[0] * factor, factor

    def _after_step(self, bar) -> None:
        self.plan.done += 1
        if self.lookahead is not None:
            self.lookahead.step(self.net, self.plan.done)
        bar.update()
        for hook in self._step_hooks:
            hook(self)

    def _select(self, row: dict[str, float]) -> None:
        """Early-stopping bookkeeping, and a copy of the weights when the watched accuracy improved."""
        acc = row[f"{self.watched}_acc"]
        if self.sets[self.watched] is None or math.isnan(acc):
            return
        if self.stopper.update(acc, row["epoch"]) and self.config.restore_best:
            self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.net.state_dict().items()})

    def _call(self, event: str, *args: Any) -> None:
        for cb in self.callbacks:
            hook = getattr(cb, event, None)
            if hook is not None:
                hook(self, *args)

    # -- set-up -----------------------------------------------------------------------------------

    def setup(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        X_test: torch.Tensor | None = None,
        y_test: torch.Tensor | None = None,
        *,
        X_val: torch.Tensor | None = None,
        y_val: torch.Tensor | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        """Everything :meth:`train` needs from the data, done once before the first epoch; the clock
        (``plan.started``) starts here, before the data-dependent init."""
        cfg, device = self.config, self.device
        self._check_data(X, y, X_test, X_val)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed + distributed.rank())  # dropout and other global-RNG use (rank 0: as one process)
        tune_cuda(device)
        if device.type == "cpu":
            keep_cpu_allocations()  # ~4% faster CPU steps, far less kernel time (training/device.py)
        self.loader = DeviceLoader(X, y, cfg, device, self.channels_last)
        self.sets = {
            "val": (X_val.to(device), y_val.to(device)) if X_val is not None else None,
            "test": (X_test.to(device), y_test.to(device)) if X_test is not None else None,
        }
        # A fractional cfg.epochs ends with part of an epoch: the first batches of its shuffled order.
        self.plan = StepPlan.for_epochs(
            self.loader.steps_per_epoch, cfg.epochs, cfg.warmup_epochs, cfg.crop_until, cfg.eval_from
        )
        # Data-dependent init (fastnet's whitening filters) from a seeded sample of training images,
        # for the model and for --keep-hard's proxy (a resumed state overwrites the proxy's).
        needs_init = hasattr(self.net, "init_from_data") and not getattr(self.net, "data_initialised", True)
        if needs_init or self.selector is not None:
            sample = torch.randperm(len(X), generator=torch.Generator().manual_seed(cfg.seed))[:5000].to(device)
            if needs_init:
                self.net.init_from_data(self.loader.x[sample])
            if self.selector is not None:
                self.selector.init_from_data(self.loader.x[sample])
        self.lookahead = Lookahead(self.net, self.plan.total) if cfg.lookahead else None
        if self.lookahead is not None:
            self.plan.on_resize(lambda total: setattr(self.lookahead, "total", total))
        if distributed.world_size() > 1:
            # Wrapping broadcasts rank 0's initial weights and buffers, so every process starts alike.
            ddp = nn.parallel.DistributedDataParallel(self.net, device_ids=[device] if device.type == "cuda" else None)
            self.forward = torch.compile(ddp) if cfg.compile else ddp
        if resume is not None:
            self.plan.started = time.perf_counter() - restore_trainer_state(self, resume)
            if distributed.rank() > 0:
                # The checkpoint holds rank 0's generator; other ranks draw their dropout masks from a
                # stream of their own (so a resumed multi-process run is exact up to those masks).
                torch.manual_seed(cfg.seed + distributed.rank() + 7919 * len(resume["history"]))

    def _check_data(self, X, y, X_test, X_val) -> None:
        cfg, watched = self.config, self.watched
        present = {"val": X_val is not None, "test": X_test is not None}
        if not present[watched] and cfg.patience > 0:
            hint = "pass X_val/y_val (cifarlab: --val-size > 0)" if watched == "val" else "pass X_test/y_test"
            raise ConfigError(f"early stopping watches {watched} accuracy but there is no {watched} set: {hint}")
        if cfg.target_acc is not None and not present["test"]:
            raise ConfigError("--target-acc watches test accuracy, but there is no test set: pass X_test/y_test")
        if len(X) != len(y) or len(X) == 0:
            raise ConfigError(f"training set has {len(X)} images and {len(y)} labels; need equal, non-zero counts")
        if self.selector is not None and distributed.world_size() > 1:
            raise ConfigError("--keep-hard trains in one process only for now: drop --nproc or --keep-hard")

    @property
    def step(self) -> int:
        """Training steps taken so far (the plan's count)."""
        return self.plan.done if self.plan is not None else 0

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue this training exactly, taken at the end of an epoch
        (what it holds: :func:`cifarlab.training.checkpoint.trainer_state`)."""
        if self.loader is None:
            raise CifarlabError("checkpoint_state() describes a training under way: call train() or setup() first")
        return trainer_state(self)

    # -- reporting --------------------------------------------------------------------------------

    def _summary(self, wall: float) -> dict[str, Any]:
        cfg, rows, sets, watched = self.config, self.history.rows, self.sets, self.watched
        best_epoch = self.stopper.best_epoch if (sets[watched] is not None and cfg.restore_best) else rows[-1]["epoch"]
        summary: dict[str, Any] = {
            "selected_on": watched if sets[watched] is not None else "last epoch",
            "best_epoch": best_epoch,
            # what was trained: 4.5 for a 4.5-epoch run, fewer whole epochs if it stopped early
            "epochs_trained": min(len(rows), round(self.plan.epochs, 4)),
            "stopped_early": self.stopper.should_stop,
            **self.history.figures(best_epoch),
        }
        # test_acc/test_loss are those of exactly the weights the model now holds (the best epoch's).
        last = rows[-1]
        if sets["test"] is not None and best_epoch == last["epoch"] and not math.isnan(last["test_acc"]):
            # The model holds the last epoch's weights, which that epoch already evaluated: reuse it
            # (with TTA on a CPU that evaluation costs as much as a third of an epoch).
            summary["test_loss"], summary["test_acc"] = last["test_loss"], last["test_acc"]
        elif sets["test"] is not None:
            summary["test_loss"], summary["test_acc"] = self.evaluate(*sets["test"])
        else:
            summary["test_loss"] = summary["test_acc"] = float("nan")
        if cfg.target_acc is not None:
            summary.update(target_acc=cfg.target_acc, seconds_to_target=self.seconds_to_target)
        summary.update(
            tta=cfg.tta,
            amp=str(self.amp_dtype).replace("torch.", "") if self.amp_dtype else "fp32",
            channels_last=self.channels_last,
            wall_seconds=wall,
            train_seconds=sum(r["seconds"] for r in rows),
            world_size=distributed.world_size(),
            seed=cfg.seed,
            **{k: v for k, v in host_info(self.device).items() if k != "threads"},
        )
        return summary
