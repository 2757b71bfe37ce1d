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

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def line(self) -> str:
        return (
            f"time budget {_fmt(self.budget_s)}: {self.epochs:g} epochs planned ({_fmt(self.planned_s)}: "
            f"{1000 * self.step_s:.0f} ms a step x {self.steps_per_epoch} steps an epoch, evaluation "
            f"{self.eval_s:.1f} s an epoch; measuring took {self.probe_s:.1f} s)"
        )


def _fmt(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def cost(
    epochs: float, step_s: float, steps_per_epoch: int, eval_s: float, checkpoint_s: float, eval_last: int | None = None
) -> float:
    """Predicted training time of ``epochs``: the steps, a checkpoint per epoch, an evaluation after
    every epoch (or after the last ``eval_last`` only, as the fast recipes do), and one more test
    evaluation for the best epoch's weights."""
    steps = max(1, round(steps_per_epoch * epochs))
    whole = math.ceil(epochs)
    evaluations = whole if eval_last is None else min(whole, eval_last)
    return steps * step_s + (evaluations + 1) * eval_s + whole * checkpoint_s


def fit_epochs(
    budget: float, step_s: float, steps_per_epoch: int, eval_s: float, checkpoint_s: float, eval_last: int | None = None
) -> float:
    """The most epochs, in hundredths, whose :func:`cost` fits ``budget``; 0.0 if not even one does."""
    best, lo, hi = 0.0, 1, 100_000  # hundredths of an epoch
    while lo <= hi:
        mid = (lo + hi) // 2
        if cost(mid / 100, step_s, steps_per_epoch, eval_s, checkpoint_s, eval_last) <= budget:
            best, lo = mid / 100, mid + 1
        else:
            hi = mid - 1
    return best


class BudgetGuard:
    """Trainer callback that keeps a budgeted run inside its budget when the machine turns out slower
    (or faster) than the probe measured: a busy neighbour, thermal limits, a probe too short to see
    the per-epoch costs. After each epoch it re-fits the remaining steps to the time left, at the
    cost per step observed so far (steps, evaluations, checkpoints and plots included); the LR schedule
    stretches or shrinks to the new end. Changes under 3% are ignored."""

    def __init__(self, seconds: float, eval_s: float, log=print):
        self.seconds, self.eval_s, self.log = seconds, eval_s, log or (lambda m: None)

    def on_epoch_end(self, trainer, row) -> None:
        steps_per_epoch, total = trainer.steps_per_epoch, trainer.total_steps
        done = trainer.step
        if done >= total:
            return
        elapsed = time.perf_counter() - trainer.t_start
        left = SAFETY * (self.seconds - elapsed) - self.eval_s  # keep one test evaluation for the best weights
        new_total = done + max(0, int(left / (elapsed / done)))
        if abs(new_total - total) > 0.03 * total:
            trainer.replan(new_total)
            self.log(
                f"time budget: re-planned to {trainer.total_steps / steps_per_epoch:.2f} epochs "
                f"({elapsed / done * steps_per_epoch:.1f} s an epoch so far; planned {total / steps_per_epoch:.2f})"
            )


def plan(
    budget_s: float,
    model: torch.nn.Module,
    cfg: TrainConfig,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    eval_images: int,
) -> BudgetPlan:
    """Measure this machine on the run's own settings and choose the epochs that fit ``budget_s``.

    ``eval_images``: how many images one evaluation covers (validation + test). Raises a one-line
    ConfigError when not even one epoch fits, saying what would.
    """
    from .trainer import Trainer

    t0 = time.perf_counter()
    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    probe_n = min(len(train_x), cfg.batch_size * (WARMUP_STEPS + PROBE_STEPS))
    # A copy of the model (the run starts from the untouched one) and of the global RNG state.
    rng = torch.get_rng_state()
    probe_cfg = replace(cfg, epochs=1, eval_from=2, patience=-1, target_acc=None, warmup_epochs=0)
    trainer = Trainer(copy.deepcopy(model), config=probe_cfg, progress=False, log=None)
    warm = min(probe_n, cfg.batch_size * WARMUP_STEPS)
    trainer.train(train_x[:warm], train_y[:warm])  # untimed: first-step kernel selection and allocation
    trainer = Trainer(trainer.net, config=probe_cfg, progress=False, log=None)
    trainer.train(train_x[:probe_n], train_y[:probe_n])
    step_s = trainer.history[0]["seconds"] / math.ceil(probe_n / cfg.batch_size)
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
    epochs = fit_epochs(available, step_s, steps_per_epoch, eval_s, checkpoint_s, eval_last)
    if epochs < 1:
        one = cost(1, step_s, steps_per_epoch, eval_s, checkpoint_s, eval_last) / SAFETY + probe_s
        fits = max(0, int((available - 2 * eval_s - checkpoint_s) / step_s)) * cfg.batch_size
        hint = f" or train on fewer images (--train-limit {fits} fits)" if fits >= 10 * cfg.batch_size else ""
        raise ConfigError(
            f"--time-budget {_fmt(budget_s)} cannot fit one epoch here: one takes ~{_fmt(one)} "
            f"({1000 * step_s:.0f} ms a step x {steps_per_epoch} steps, evaluation {eval_s:.0f} s); "
            f"raise --time-budget to {math.ceil(one / 60)}m{hint}"
        )
    planned = cost(epochs, step_s, steps_per_epoch, eval_s, checkpoint_s, eval_last)
    return BudgetPlan(budget_s, probe_s, step_s, eval_s, checkpoint_s, steps_per_epoch, epochs, planned)
