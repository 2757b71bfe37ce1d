"""Training to a time budget: "what is the best this model reaches in 10 minutes here?"

:func:`plan` measures this machine before the run starts: a few real training steps of the run's own
model, batch size, precision and augmentation (on a copy, so the run itself is untouched), the
evaluation of a slice of images with the run's test-time views, and the cost of writing a
checkpoint. From those it chooses the number of epochs (fractional: the last one may stop part-way)
whose training, per-epoch evaluations and checkpoints fit the budget, and the recipe's LR schedule is
then laid over exactly that many steps. The probe's own time is taken out of the budget first, so
the whole of ``cifarlab train --time-budget 10m`` up to the final report takes about 10 minutes.

The report written after training (``report.html``, an evaluation of the test set) is not in the
budget; the summary records the budget, the plan and the time the training really took.
"""

from __future__ import annotations

import copy
import io
import math
import re
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from .config import TrainConfig
from .errors import ConfigError

# Plan for this share of the budget: step times drift by a few percent over a run (thermal state,
# the allocator, a busy neighbour), and overrunning is worse than finishing a little early.
SAFETY = 0.95
PROBE_STEPS = 6  # timed steps, after WARMUP_STEPS untimed ones (oneDNN picks kernels on the first)
WARMUP_STEPS = 2
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str | float | int) -> float:
    """``"10m"``, ``"90s"``, ``"1h30m"``, ``"1.5h"`` or a number of seconds -> seconds (positive)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        s = str(text).strip().lower()
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smh]?)", s)
        if not s or not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smh]?)", "", s).strip():
            raise ConfigError(f"--time-budget expects a duration such as 10m, 90s or 1h30m, got '{text}'")
        seconds = sum(float(v) * _UNITS[u or "s"] for v, u in parts)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"--time-budget must be a positive duration, got '{text}'")
    return seconds


@dataclass
class BudgetPlan:
    budget_s: float  # what the user asked for
    probe_s: float  # spent measuring, taken out of the budget
    step_s: float  # one training step, measured
    eval_s: float  # one evaluation of the validation and test sets, measured
    checkpoint_s: float  # writing one checkpoint, measured
    steps_per_epoch: int
    epochs: float  # the plan: what fits
    planned_s: float  # the plan's predicted training time
    crop_ratio: float = 1.0  # progressive resizing: a crop step's time over a full-size step's (measured)

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def line(self) -> str:
        crops = f", a crop step {self.crop_ratio:.2f}x a full one" if self.crop_ratio != 1.0 else ""
        return (
            f"time budget {_fmt(self.budget_s)}: {self.epochs:g} epochs planned ({_fmt(self.planned_s)}: "
            f"{1000 * self.step_s:.0f} ms a step{crops} x {self.steps_per_epoch} steps an epoch, evaluation "
            f"{self.eval_s:.1f} s an epoch; measuring took {self.probe_s:.1f} s)"
        )


def _fmt(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


@dataclass(frozen=True)
class RunCosts:
    """What a run's parts cost on this machine, as the probe measured them, and how often it pays each:
    a checkpoint per epoch, an evaluation after every epoch (or after the last ``eval_last`` only, as
    the fast recipes do), and, if the run may restore an earlier epoch's weights (``restores``), one
    more test evaluation for them. A run that watches no accuracy keeps its last weights, whose
    evaluation the summary reuses."""

    step_s: float
    steps_per_epoch: int
    eval_s: float
    checkpoint_s: float
    eval_last: int | None = None
    restores: bool = True

    def seconds(self, epochs: float) -> float:
        """Predicted training time of ``epochs`` (fractional: the last one may stop part-way)."""
        steps = max(1, round(self.steps_per_epoch * epochs))
        whole = math.ceil(epochs)
        evaluations = whole if self.eval_last is None else min(whole, self.eval_last)
        return steps * self.step_s + (evaluations + self.restores) * self.eval_s + whole * self.checkpoint_s

    def fit_epochs(self, budget: float) -> float:
        """The most epochs, in hundredths, whose :meth:`seconds` fit ``budget``; 0.0 if not even one does."""
        best, lo, hi = 0.0, 1, 100_000  # hundredths of an epoch
        while lo <= hi:
            mid = (lo + hi) // 2
            if self.seconds(mid / 100) <= budget:
                best, lo = mid / 100, mid + 1
            else:
                hi = mid - 1
        return best


def weighted_steps(start: int, end: int, switch: int, crop_ratio: float) -> float:
    """Steps ``start..end-1`` counted in full-size steps: those before ``switch`` are crops, each
    ``crop_ratio`` of a full step's time (progressive resizing; 1.0 without it)."""
    cropped = max(0, min(end, switch) - start)
    return cropped * crop_ratio + max(0, end - start - cropped)


class BudgetGuard:
    """Trainer callback that keeps a budgeted run inside its budget when the machine turns out slower
    (or faster) than the probe measured: a busy neighbour, thermal limits, a probe too short to see
    the per-epoch costs. After each epoch it re-fits the remaining steps to the time left, at the
    cost per step observed so far (steps, evaluations, checkpoints and plots included); the LR schedule
    stretches or shrinks to the new end. Changes under 3% of the steps still to come are ignored: early
    that keeps the schedule steady, and late it still lets the last re-plan fill the budget (a dead band
    of 3% of all the steps had left 1 to 31 s of 45 runs' 695 s unused, 15 s on average: docs/performance.md).
    With progressive resizing the steps are weighed by the probe's crop/full time ratio, so cheap early
    crop steps do not promise cheap late full-size ones."""

    def __init__(self, seconds: float, eval_s: float, log=print, crop_ratio: float = 1.0):
        self.seconds, self.eval_s, self.log = seconds, eval_s, log or (lambda m: None)
        self.crop_ratio = crop_ratio

    def on_epoch_end(self, trainer, row) -> None:
        steps_per_epoch, total = trainer.steps_per_epoch, trainer.total_steps
        done = trainer.step
        if done >= total:
            return
        elapsed = time.perf_counter() - trainer.t_start
        left = SAFETY * (self.seconds - elapsed) - self.eval_s  # keep one test evaluation for the best weights
        # crop_until is 1.0 unless --crop is set (config validation), so plain runs keep the old rule
        new_total = self.fit(done, elapsed, left, trainer.config.crop_until, trainer.crop_steps)
        if abs(new_total - total) > 0.03 * (total - done):
            trainer.replan(new_total)
            self.log(
                f"time budget: re-planned to {trainer.total_steps / steps_per_epoch:.2f} epochs "
                f"({elapsed / done * steps_per_epoch:.1f} s an epoch so far; planned {total / steps_per_epoch:.2f})"
            )

    def fit(self, done: int, elapsed: float, left: float, crop_until: float, switch: int) -> int:
        """The most steps in all whose remaining ones fit ``left`` seconds at the rate seen so far
        (``done`` steps in ``elapsed`` seconds, those before step ``switch`` on crops)."""
        r = self.crop_ratio
        rate = elapsed / max(weighted_steps(0, done, switch, r), 1e-9)  # seconds per full-size step
        if left <= 0:
            return done
        lo, hi = done, done + int(left / (rate * min(r, 1.0))) + 1
        while lo < hi:  # the largest total whose steps from `done` on cost at most `left`
            mid = (lo + hi + 1) // 2
            if rate * weighted_steps(done, mid, round(crop_until * mid), r) <= left:
                lo = mid
            else:
                hi = mid - 1
        return lo


def plan(
    budget_s: float,
    model: torch.nn.Module,
    cfg: TrainConfig,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    eval_images: int,
    restores: bool = True,
) -> BudgetPlan:
    """Measure this machine on the run's own settings and choose the epochs that fit ``budget_s``.

    ``eval_images``: how many images one evaluation covers (validation + test); ``restores``: whether
    the run may end on an earlier epoch's weights, which the test set then sees once more. Raises a
    one-line ConfigError when not even one epoch fits, saying what would.
    """
    t0 = time.perf_counter()
    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    rng = torch.get_rng_state()
    probe_cfg = replace(cfg, epochs=1, eval_from=2, patience=-1, target_acc=None, warmup_epochs=0, crop_until=1.0)
    trainer, step_s = _probe_steps(model, probe_cfg, train_x, train_y)
    crop_ratio = 1.0
    if cfg.crop and cfg.crop_until < 1:
        # progressive resizing: crop steps first, then full-size ones, each timed on its own
        _, full_s = _probe_steps(model, replace(probe_cfg, crop=0), train_x, train_y)
        crop_ratio = step_s / full_s
        step_s = cfg.crop_until * step_s + (1 - cfg.crop_until) * full_s
    n_eval = min(len(train_x), 1000)
    e0 = time.perf_counter()
    trainer.evaluate(train_x[:n_eval].to(trainer.device), train_y[:n_eval].to(trainer.device))
    eval_s = (time.perf_counter() - e0) * eval_images / n_eval
    c0 = time.perf_counter()
    buf = io.BytesIO()
    torch.save(trainer.checkpoint_state(), buf)  # serialising dominates; the write is a memcpy to the page cache
    checkpoint_s = 1.5 * (time.perf_counter() - c0)
    torch.set_rng_state(rng)
    probe_s = time.perf_counter() - t0

    # A recipe that evaluates only its last epochs keeps doing so over the new length (apply_overrides).
    eval_last = math.ceil(cfg.epochs) - cfg.eval_from + 1 if cfg.eval_from > 1 else None
    available = SAFETY * (budget_s - probe_s)
    costs = RunCosts(step_s, steps_per_epoch, eval_s, checkpoint_s, eval_last, restores)
    epochs = costs.fit_epochs(available)
    if epochs < 1:
        one = costs.seconds(1) / SAFETY + probe_s
        fits = max(0, int((available - 2 * eval_s - checkpoint_s) / step_s)) * cfg.batch_size
        hint = f" or train on fewer images (--train-limit {fits} fits)" if fits >= 10 * cfg.batch_size else ""
        raise ConfigError(
            f"--time-budget {_fmt(budget_s)} cannot fit one epoch here: one takes ~{_fmt(one)} "
            f"({1000 * step_s:.0f} ms a step x {steps_per_epoch} steps, evaluation {eval_s:.0f} s); "
            f"raise --time-budget to {math.ceil(one / 60)}m{hint}"
        )
    return BudgetPlan(
        budget_s, probe_s, step_s, eval_s, checkpoint_s, steps_per_epoch, epochs, costs.seconds(epochs), crop_ratio
    )


def _probe_steps(model: torch.nn.Module, cfg: TrainConfig, train_x: torch.Tensor, train_y: torch.Tensor):
    """(the probe's Trainer, seconds per step): a few timed training steps of a copy of ``model``."""
    from .trainer import Trainer

    probe_n = min(len(train_x), cfg.batch_size * (WARMUP_STEPS + PROBE_STEPS))
    trainer = Trainer(copy.deepcopy(model), config=cfg, progress=False, log=None)
    warm = min(probe_n, cfg.batch_size * WARMUP_STEPS)
    trainer.train(train_x[:warm], train_y[:warm])  # untimed: first-step kernel selection and allocation
    trainer = Trainer(trainer.net, config=cfg, progress=False, log=None)
    trainer.train(train_x[:probe_n], train_y[:probe_n])
    return trainer, trainer.history[0]["seconds"] / math.ceil(probe_n / cfg.batch_size)
