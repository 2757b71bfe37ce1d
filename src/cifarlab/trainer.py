"""The Trainer: the notebook's API, with an honest training loop underneath.

``Trainer(net, num_epochs=20, learning_rate=0.1, weight_decay=0, batch_size=256, patience=-1,
loss=..., optimizer=...)`` and ``.train(X, y, X_test, y_test)`` work as in the notebook; ``.history``
holds one row per epoch. What changed underneath:

- Data stays a tensor on the training device; a batch is a shuffled index slice (no DataLoader, no
  per-sample Python). uint8 images are scaled to [0, 1] per batch, so the resident copy stays small.
- Early stopping and best-weight selection watch *validation* accuracy (``select_on='val'``); the
  notebook watched test accuracy, which ``select_on='test'`` reproduces.
- No host synchronisation inside the step loop: losses and hit counts accumulate on the device and
  are read once per epoch.
"""

from __future__ import annotations

import copy
import importlib
import itertools
import math
import platform
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from .augment import AugmentConfig, BatchAugment
from .config import OPTIMIZERS, TrainConfig
from .errors import CifarlabError, ConfigError, unknown_name
from .muon import ConvMuon
from .schedules import lr_factor
from .speed import autocast, grad_scaler, keep_cpu_allocations, resolve_amp, resolve_channels_last, tune_cuda

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr", "seconds")


class TrainingDiverged(CifarlabError):
    """The loss became NaN or infinite."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {name}: MPS is not available here; use --device cpu or auto")
    return device


class EarlyStopping:
    """The notebook's rule: an epoch improves only if it beats the best by more than ``min_delta``;
    stop after ``patience`` epochs in a row without improvement (``patience <= 0``: never stop)."""

    def __init__(self, patience: int = -1, min_delta: float = 0.001):
        self.patience = patience
        self.min_delta = min_delta
        self.best = -math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record ``value`` for ``epoch``; return True if it is a new best."""
        if value > self.best + self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.bad_epochs = state["best"], state["best_epoch"], state["bad_epochs"]


class History:
    """Per-epoch rows; ``history['test_acc']`` gives a column as a list, like the notebook's dict."""

    def __init__(self, rows: Iterable[dict[str, float]] = ()):
        self.rows: list[dict[str, float]] = list(rows)

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(row)

    def __getitem__(self, key: str | int):
        if isinstance(key, int):
            return self.rows[key]
        return [row[key] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs)"


def as_float_images(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [0, 1]; float images pass through unchanged."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def tta_logits(model: nn.Module, x: torch.Tensor, mode: str = "none") -> torch.Tensor:
    """Logits averaged over test-time views of ``x`` (float images).

    ``flip``: the image and its mirror, averaged. ``flip_translate`` (6 views, airbench's level 2):
    half weight on that pair, a quarter on each of the pairs shifted one pixel up-left and down-right
    (reflect padding).
    """
    if mode == "none":
        return model(x)
    pair = lambda v: 0.5 * (model(v) + model(v.flip(-1)))  # noqa: E731
    if mode == "flip":
        return pair(x)
    padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    h, w = x.shape[-2:]
    up_left, down_right = padded[..., :h, :w], padded[..., 2:, 2:]
    return 0.5 * pair(x) + 0.25 * (pair(up_left) + pair(down_right))


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 1000,
    loss_fn: Callable | None = None,
    *,
    tta: str = "none",
    amp_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> tuple[float, float]:
    """Mean loss (plain cross-entropy unless ``loss_fn``) and accuracy of ``model`` on (x, y), eval mode."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for i in range(0, len(x), batch_size):
        xb = as_float_images(x[i : i + batch_size].to(device, non_blocking=True))
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = y[i : i + batch_size].to(device, non_blocking=True)
        with autocast(device, amp_dtype):
            out = tta_logits(model, xb, tta).float()
        loss_sum += loss_fn(out, yb) * len(yb)
        correct += (out.argmax(1) == yb).sum()
    model.train(was_training)
    n = max(len(x), 1)
    return loss_sum.item() / n, correct.item() / n


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 1000, tta: str = "none") -> torch.Tensor:
    """Logits for all of ``x`` (eval mode, fp32), on the CPU. Conv nets run channels_last (same
    arithmetic; CPU and GPU convolutions are faster in that layout)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    layout = torch.channels_last if resolve_channels_last("auto", model) else torch.contiguous_format
    model.to(memory_format=layout)
    outs = [
        tta_logits(model, as_float_images(x[i : i + batch_size].to(device)).contiguous(memory_format=layout), tta)
        .float()
        .cpu()
        for i in range(0, len(x), batch_size)
    ]
    model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0, 0)


def check_optimizer_fits(model: nn.Module, cfg: TrainConfig) -> None:
    """Refuse an optimizer the model cannot take: muon needs trainable 4-D convolution filters."""
    if cfg.optimizer == "muon" and not any(p.requires_grad and p.dim() == 4 for p in model.parameters()):
        raise ConfigError(
            "--optimizer muon trains convolution filters and this model has none; use --optimizer sgd or adam"
        )


def param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Trainable parameters, with BatchNorm's in a group of their own when ``bn_lr_scale != 1``.

    The BN group's LR is multiplied by ``bn_lr_scale`` and its weight decay divided by it, so the
    per-step decay (lr x wd) stays that of the other weights (airbench's bias_scaler). With the
    ``muon`` optimizer the 4-D convolution filters form a last group of their own (``muon=True``).
    """
    check_optimizer_fits(model, cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    muon_ids = {id(p) for p in trainable if p.dim() == 4} if cfg.optimizer == "muon" else set()
    bn_ids = set()
    if cfg.bn_lr_scale != 1.0:
        bn_ids = {
            id(p)
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False)
            if p.requires_grad
        }
    groups = [{"params": [p for p in trainable if id(p) not in bn_ids | muon_ids]}]
    if bn_ids:
        bn = [p for p in trainable if id(p) in bn_ids]
        bn_wd = cfg.weight_decay / cfg.bn_lr_scale
        groups.append({"params": bn, "lr": cfg.lr * cfg.bn_lr_scale, "weight_decay": bn_wd})
    if muon_ids:
        filters = [p for p in trainable if id(p) in muon_ids]
        groups.append(
            {
                "params": filters,
                "muon": True,
                "lr": cfg.muon_lr,
                "momentum": cfg.muon_momentum,
                "nesterov": True,
                "weight_decay": 0.0,
            }
        )
    return groups


def build_optimizer(optimizer: str | type, params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """An optimizer by name (sgd with momentum/nesterov, adam, adamw, muon) or a torch.optim class."""
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    name = str(optimizer).lower()
    if name == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
        )
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "muon":
        return ConvMuon(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
    raise unknown_name("optimizer", name, OPTIMIZERS)


def _build_loss(loss, label_smoothing: float) -> Callable:
    if loss is None:
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if isinstance(loss, type):
        return loss(label_smoothing=label_smoothing) if label_smoothing else loss()
    return loss


class Lookahead:
    """airbench's lookahead: every 5 steps, move an EMA of the weights towards the model and copy it
    back into the model. The EMA decay grows as ``0.95**5 * (step / total)**3``: no averaging early,
    strong averaging at the end. Written by hand because torch's AveragedModel only averages; it does
    not pull the trained weights back."""

    def __init__(self, model: nn.Module, total_steps: int, every: int = 5):
        self.total, self.every = total_steps, every
        self.ema = {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def step(self, model: nn.Module, step: int) -> None:
        if step % self.every:
            return
        self._pull(model, 0.95**self.every * (step / self.total) ** 3)

    @torch.no_grad()
    def _pull(self, model: nn.Module, decay: float) -> None:
        state = model.state_dict()
        for k, avg in self.ema.items():
            avg.lerp_(state[k], 1 - decay)
            state[k].copy_(avg)

    def finish(self, model: nn.Module) -> None:
        self._pull(model, 0.95**self.every)


class Trainer:
    """Train a classifier on tensors that stay on the device.

    Callbacks are objects with any of ``on_train_begin(trainer)``, ``on_epoch_end(trainer, row)``
    and ``on_train_end(trainer, summary)``; :class:`cifarlab.runs.RunWriter` is one.
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
            names = {f.name for f in fields(TrainConfig)}
            bad = sorted(set(options) - names)
            if bad:
                raise unknown_name("Trainer option", bad[0], sorted(names))
            # A torch.optim class (the notebook passed Optim=SGD) is recorded by its name.
            opt_name = optimizer if isinstance(optimizer, str) else optimizer.__name__.lower()
            config = TrainConfig(
                epochs=num_epochs,
                lr=learning_rate,
                weight_decay=weight_decay,
                batch_size=batch_size,
                patience=patience,
                optimizer=opt_name,
                **options,
            )
        self._optimizer_spec = optimizer if isinstance(optimizer, type) else config.optimizer
        config.validate(check_optimizer=not isinstance(self._optimizer_spec, type))
        self.config = config
        self.net = net
        self.loss_fn = _build_loss(loss, config.label_smoothing)
        self.callbacks = list(callbacks)
        self.progress = progress
        self.log = log or (lambda msg: None)
        self.device = resolve_device(config.device)
        if distributed.is_active() and self.device.type == "cuda":
            self.device = torch.device("cuda", torch.cuda.current_device())  # this rank's GPU (LOCAL_RANK)
        self.history = History()
        self.summary: dict[str, Any] = {}
        self.stopper = EarlyStopping(config.patience, config.min_delta)
        self.step = 0

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
        cfg = self.config
        watched = "val" if cfg.select_on == "val" else "test"
        has = {"val": X_val is not None, "test": X_test is not None}
        if not has[watched] and (cfg.patience > 0):
            hint = "pass X_val/y_val (cifarlab: --val-size > 0)" if watched == "val" else "pass X_test/y_test"
            raise ConfigError(f"early stopping watches {watched} accuracy but there is no {watched} set: {hint}")
        if cfg.target_acc is not None and not has["test"]:
            raise ConfigError("--target-acc watches test accuracy, but there is no test set: pass X_test/y_test")
        if len(X) != len(y) or len(X) == 0:
            raise ConfigError(f"training set has {len(X)} images and {len(y)} labels; need equal, non-zero counts")

        device = self.device
        world, rank = distributed.world_size(), distributed.rank()
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed + rank)  # dropout and any other global-RNG use (rank 0: as one process)
        self._shuffle_gen = shuffle_gen = torch.Generator().manual_seed(cfg.seed)
        X, y = X.to(device), y.to(device)
        model = self.net.to(device)
        # The first optimizer a process builds makes torch import its compiler stack (torch._dynamo,
        # sympy: ~2.5 s on a 2-core CPU, once per process). That is start-up, not training, so it is
        # done before the clock starts, like building the model. The clock does count everything
        # below: the data-dependent init, every epoch and the evaluations that detect a target.
        importlib.import_module("torch._dynamo")
        tune_cuda(device)
        if device.type == "cpu":
            keep_cpu_allocations()  # ~4% faster CPU steps, far less kernel time (speed.py)

        t_start = time.perf_counter()
        if hasattr(model, "init_from_data") and not getattr(model, "data_initialised", True):
            # Data-dependent init (fastnet's whitening filters) from a seeded sample of training images.
            sample = torch.randperm(len(X), generator=torch.Generator().manual_seed(cfg.seed))[:5000].to(device)
            model.init_from_data(X[sample])
        self.amp_dtype = resolve_amp(cfg.amp, device)
        self.channels_last = resolve_channels_last(cfg.channels_last, model)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        # The compiled module shares parameters with self.net; state_dicts are taken from self.net.
        # Evaluation runs the plain model: each rank evaluates its share of the images, no collectives.
        self._eval_model = fwd = torch.compile(model) if cfg.compile else model
        if world > 1:
            if cfg.sync_bn:
                distributed.check_sync_bn(True, device)
                model = self.net = nn.SyncBatchNorm.convert_sync_batchnorm(model)
                self._eval_model = torch.compile(model) if cfg.compile else model
            # Wrapping broadcasts rank 0's initial weights and buffers, so every rank starts alike.
            fwd = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
            fwd = torch.compile(fwd) if cfg.compile else fwd
        sets = {
            "val": (X_val.to(device), y_val.to(device)) if has["val"] else None,
            "test": (X_test.to(device), y_test.to(device)) if has["test"] else None,
        }
        opt = build_optimizer(self._optimizer_spec, param_groups(model, cfg), cfg)
        self.optimizer = opt
        self._scaler = scaler = grad_scaler(device, self.amp_dtype)
        aug_cfg = AugmentConfig(translate=cfg.translate, flip=cfg.flip, cutout=cfg.cutout, crop=cfg.crop)
        self._augment = augment = BatchAugment(aug_cfg, len(X), cfg.seed, device)
        base_lrs = [g["lr"] for g in opt.param_groups]
        n, bs = len(X), cfg.batch_size
        steps_per_epoch = math.ceil(n / bs)  # the last, partial batch is kept, as the notebook's DataLoader did
        # A fractional cfg.epochs ends with part of an epoch: the first batches of its shuffled order.
        total_steps = max(1, round(steps_per_epoch * cfg.epochs))
        self._plan = (steps_per_epoch, total_steps)  # also read by the log lines and the summary
        self._planned_steps = total_steps
        last_epoch = self._last_epoch()
        warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)
        self._lookahead = lookahead = Lookahead(model, total_steps) if cfg.lookahead else None
        self._best_state = None
        self.seconds_to_target: float | None = None
        self.improved = False
        if resume is not None:
            t_start = time.perf_counter() - self._load_checkpoint_state(resume)
        self._t_start = t_start
        for cb in self.callbacks:
            getattr(cb, "on_train_begin", lambda t: None)(self)

        for epoch in itertools.count(len(self.history) + 1):
            last_epoch = self._last_epoch()  # a time budget's guard may re-plan the length (replan)
            if epoch > last_epoch:
                break
            model.train()
            if hasattr(model, "epoch_hook"):
                model.epoch_hook(epoch)  # e.g. fastnet freezes its whitening bias after a few epochs
            perm = torch.randperm(n, generator=shuffle_gen).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            lr = base_lrs[0]
            steps = self._steps_in(epoch)
            seen = min(n, steps * bs)  # images in this epoch (all n unless it is a partial last one)
            bar = tqdm(
                total=steps,
                desc=f"epoch {epoch}/{last_epoch}",
                leave=False,
                disable=None if self.progress and rank == 0 else True,
                file=sys.stderr,
            )
            t0 = time.perf_counter()
            for i in range(steps):
                idx = perm[i * bs : (i + 1) * bs]
                if len(idx) < world:
                    continue  # a last batch too small to give every rank an image (all ranks skip it)
                xb, yb = X[idx], y[idx]
                if augment.active:
                    xb = augment(xb, idx, epoch)  # on the uint8 batch: cheaper than on floats
                weight = 1.0
                if world > 1:
                    # Every rank drew (and augmented) the same global batch; train on this rank's share.
                    # DDP averages gradients over ranks: weighting each share's mean loss by its size
                    # makes that average the global batch's mean gradient even when shares differ.
                    part = distributed.shard(len(idx))
                    xb, yb = xb[part], yb[part]
                    weight = len(yb) * world / len(idx)
                xb = as_float_images(xb)
                if self.channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                factor = lr_factor(
                    self.step,
                    self._plan[1],
                    cfg.schedule,
                    warmup_steps=warmup_steps,
                    steps_per_epoch=steps_per_epoch,
                    step_size=cfg.step_size,
                    gamma=cfg.gamma,
                )
                for group, base in zip(opt.param_groups, base_lrs):
                    group["lr"] = base * factor
                lr = base_lrs[0] * factor
                with autocast(device, self.amp_dtype):
                    out = fwd(xb)
                    loss = self.loss_fn(out.float(), yb)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss * weight if world > 1 else loss).backward()
                scaler.step(opt)
                scaler.update()
                self.step += 1
                if lookahead is not None:
                    lookahead.step(model, self.step)
                loss_sum += loss.detach() * len(yb)
                correct += (out.detach().argmax(1) == yb).sum()
                bar.update()
            loss_sum, correct = distributed.all_reduce_sum(loss_sum, correct)  # sums over ranks
            train_loss = loss_sum.item() / seen  # the one host sync of the epoch
            seconds = time.perf_counter() - t0
            bar.close()
            if not math.isfinite(train_loss):
                raise TrainingDiverged(
                    f"training loss became {train_loss} in epoch {epoch}; lower the learning rate (--lr {cfg.lr:g})"
                )
            if lookahead is not None and epoch == last_epoch:
                lookahead.finish(model)  # end on the averaged weights
            row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss, "train_acc": correct.item() / seen}
            evaluate_now = epoch >= cfg.eval_from or epoch == last_epoch
            distributed.broadcast_buffers(model)  # rank 0's BatchNorm statistics everywhere (and in model.pt)
            for split in ("val", "test"):
                if sets[split] is not None and evaluate_now:
                    row[f"{split}_loss"], row[f"{split}_acc"] = self._evaluate(*sets[split])
                else:
                    row[f"{split}_loss"] = row[f"{split}_acc"] = float("nan")
            row["lr"], row["seconds"] = lr, seconds
            self.history.append(row)

            self.improved = has[watched] and evaluate_now and self.stopper.update(row[f"{watched}_acc"], epoch)
            if self.improved and cfg.restore_best:
                self._best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            self.log(self._epoch_line(row))
            reached = cfg.target_acc is not None and evaluate_now and row["test_acc"] >= cfg.target_acc
            if reached:
                self.seconds_to_target = time.perf_counter() - t_start
            for cb in self.callbacks:
                getattr(cb, "on_epoch_end", lambda t, r: None)(self, row)
            if reached:
                self.log(f"target test accuracy {cfg.target_acc:.4f} reached after {self.seconds_to_target:.1f}s")
                break
            if self.stopper.should_stop:
                self.log(f"early stop: no {watched} accuracy gain > {cfg.min_delta} in {cfg.patience} epochs")
                break

        if self._best_state is not None and self.stopper.best_epoch != len(self.history):
            model.load_state_dict(self._best_state)
        self.summary = self._summary(sets, watched, time.perf_counter() - t_start)
        for cb in self.callbacks:
            getattr(cb, "on_train_end", lambda t, s: None)(self, self.summary)
        return self.history

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue this training exactly, taken at the end of an epoch."""
        cuda = self.device.type == "cuda"
        return {
            "epoch": len(self.history),
            "step": self.step,
            # The length the config asked for, and the one a time budget's guard may have re-planned.
            "planned_steps": self._planned_steps,
            "total_steps": self._plan[1],
            "history": [dict(r) for r in self.history.rows],
            "model": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self._scaler.state_dict(),
            "stopper": self.stopper.state_dict(),
            "best_state": self._best_state,
            "lookahead": {k: v.cpu().clone() for k, v in self._lookahead.ema.items()} if self._lookahead else None,
            "augment": self._augment.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "shuffle": self._shuffle_gen.get_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if cuda else None,
            },
            "seconds_to_target": self.seconds_to_target,
            "elapsed": time.perf_counter() - self._t_start,
        }

    def _load_checkpoint_state(self, state: dict[str, Any]) -> float:
        if state.get("total_steps") and state.get("planned_steps") == self._planned_steps:
            self.replan(int(state["total_steps"]))  # re-planned by a budget guard; a new --epochs wins
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._scaler.load_state_dict(state["scaler"])
        self.stopper.load_state_dict(state["stopper"])
        self._best_state = state["best_state"]
        if self._lookahead is not None and state["lookahead"] is not None:
            for k, v in state["lookahead"].items():
                self._lookahead.ema[k].copy_(v)
        self._augment.load_state_dict(state["augment"])
        torch.set_rng_state(state["rng"]["torch"])
        if distributed.rank() > 0:
            # The checkpoint holds rank 0's generator; other ranks draw their dropout masks from a
            # stream of their own (so a resumed multi-process run is exact up to those masks).
            torch.manual_seed(self.config.seed + distributed.rank() + 7919 * len(state["history"]))
        self._shuffle_gen.set_state(state["rng"]["shuffle"])
        if state["rng"]["cuda"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.history = History(state["history"])
        self.step = state["step"]
        self.seconds_to_target = state["seconds_to_target"]
        return float(state["elapsed"])

    def _evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        cfg = self.config
        run = lambda xs, ys: evaluate(
            self._eval_model,
            xs,
            ys,
            cfg.eval_batch_size,
            tta=cfg.tta,  # noqa: E731
            amp_dtype=self.amp_dtype,
            channels_last=self.channels_last,
        )
        if not distributed.is_active():
            return run(x, y)
        part = distributed.shard(len(x))  # each rank evaluates its share; sums are added over ranks
        loss, acc = run(x[part], y[part])
        k = len(y[part])
        loss_sum, hits = distributed.all_reduce_sum(torch.tensor(loss * k), torch.tensor(acc * k))
        return loss_sum.item() / len(x), round(hits.item()) / len(x)

    # -- reporting --------------------------------------------------------------------------------

    def replan(self, total_steps: int) -> None:
        """Change the run's length to ``total_steps`` (never below the steps taken), from the next
        epoch on: the LR schedule and lookahead follow the new end. Used by a time budget's guard."""
        self._plan = (self._plan[0], max(total_steps, self.step, 1))
        if self._lookahead is not None:
            self._lookahead.total = self._plan[1]

    def _last_epoch(self) -> int:
        steps_per_epoch, total_steps = self._plan
        return math.ceil(total_steps / steps_per_epoch)

    def _steps_in(self, epoch: int) -> int:
        """Steps of ``epoch``: a whole epoch's, or fewer in the partial last one of a fractional run."""
        steps_per_epoch, total_steps = self._plan
        return min(steps_per_epoch, total_steps - (epoch - 1) * steps_per_epoch)

    def _epoch_line(self, row: dict[str, float]) -> str:
        def part(split: str) -> str:
            acc = row[f"{split}_acc"]
            return "" if math.isnan(acc) else f"  {split} loss {row[f'{split}_loss']:.4f} acc {100 * acc:.2f}%"

        steps, steps_per_epoch = self._steps_in(row["epoch"]), self._plan[0]
        partial = f" ({steps} of {steps_per_epoch} batches)" if steps < steps_per_epoch else ""
        return (
            f"epoch {row['epoch']:>3}/{self._last_epoch()}{partial}  train loss {row['train_loss']:.4f} "
            f"acc {100 * row['train_acc']:.2f}%{part('val')}{part('test')}  lr {row['lr']:.2e}  {row['seconds']:.1f}s"
        )

    def _summary(self, sets, watched: str, wall: float) -> dict[str, Any]:
        cfg, rows = self.config, self.history.rows
        best_epoch = self.stopper.best_epoch if (sets[watched] is not None and cfg.restore_best) else rows[-1]["epoch"]
        best_row = rows[best_epoch - 1]
        summary: dict[str, Any] = {
            "selected_on": watched if sets[watched] is not None else "last epoch",
            "best_epoch": best_epoch,
            "epochs_run": len(rows),  # metric rows; a 4.5-epoch run has 5, the last a half epoch
            # what was trained: 4.5 for a 4.5-epoch run, fewer whole epochs if it stopped early
            "epochs_trained": min(len(rows), round(self._plan[1] / self._plan[0], 4)),
            "stopped_early": self.stopper.should_stop,
            "best_val_acc": _nanmax(r["val_acc"] for r in rows),
            "best_test_acc": _nanmax(r["test_acc"] for r in rows),
            "val_acc_at_best": best_row["val_acc"],
            "final_train_acc": rows[-1]["train_acc"],
            "final_val_acc": rows[-1]["val_acc"],
            "final_test_acc": rows[-1]["test_acc"],
        }
        # test_acc/test_loss are those of exactly the weights the model now holds (the best epoch's).
        last = rows[-1]
        if sets["test"] is not None and best_epoch == last["epoch"] and not math.isnan(last["test_acc"]):
            # The model holds the last epoch's weights, which that epoch already evaluated: reuse it
            # (with TTA on a CPU that evaluation costs as much as a third of an epoch).
            summary["test_loss"], summary["test_acc"] = last["test_loss"], last["test_acc"]
        elif sets["test"] is not None:
            summary["test_loss"], summary["test_acc"] = self._evaluate(*sets["test"])
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
            device=str(self.device),
            device_name=_device_name(self.device),
            world_size=distributed.world_size(),
            torch_version=str(torch.__version__),
            python_version=platform.python_version(),
            seed=cfg.seed,
        )
        return summary


def _nanmax(values: Iterable[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else float("nan")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        if names:
            return f"{names[0]} ({len(names)} logical CPUs)"
    except OSError:
        pass
    return platform.processor() or platform.machine()
