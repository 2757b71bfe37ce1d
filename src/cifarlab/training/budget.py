"""Training to a time budget: "what is the best this model reaches in 10 minutes here?"

:func:`plan` measures this machine before the run starts: a few real training steps of the run's own
model, batch size, precision and augmentation (on a copy, so the run itself is untouched), the
evaluation of a slice of images with the run's test-time views, and the cost of writing a
checkpoint. From those it chooses the number of training steps whose training, evaluations and
checkpoints fit the budget -- a whole number of epochs, a fraction of one, or fewer steps than one
epoch holds -- and the recipe's LR schedule is then laid over exactly those steps. An evaluation is
charged only where the run makes one: after every epoch of a run that selects on validation, once at
the end of one that keeps its last weights (the zoo's recipes under a budget, recipes.py). Below
``MIN_STEPS`` steps (one epoch of a smaller training set) it refuses, in one line naming the budget
that would fit them. The probe's own time is taken out of the budget first, so the whole of
``cifarlab train --time-budget 10m`` up to the final report takes about 10 minutes; :class:`BudgetGuard`
re-plans the rest of the run every ``REPLAN_S`` seconds of training as the real speed shows.

The report written after training (``report.html``, an evaluation of the test set) is not in the
budget; the summary records the budget, the plan and the time the training really took.
"""

from __future__ import annotations

import copy
import io
import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from ..config.schema import TrainConfig
from ..core.durations import fmt_seconds
from ..core.errors import ConfigError
from .plan import StepPlan

# Plan for this share of the budget: step times drift by a few percent over a run (thermal state,
# the allocator, a busy neighbour), and overrunning is worse than finishing a little early.
SAFETY = 0.95
PROBE_STEPS = 6  # timed steps at most, after WARMUP_STEPS untimed ones (oneDNN picks kernels on the first)
WARMUP_STEPS = 2
# A slow model times fewer steps, down to 2, so the probe stays within this share of the budget
# (DEVELOPERS.md, "Measurements behind the code").
PROBE_SHARE = 0.03
# Images evaluated to time an evaluation (its cost per image is scaled to the run's sets): at least 500,
# and one whole batch of the run's evaluation batch size up to 1,000, since per-image cost depends on it.
PROBE_EVAL_IMAGES = 500
PROBE_EVAL_MAX = 1000
# Fewer steps than this is no training worth a run folder: the textbook loop trained vgg16_bn for 67
# steps to 10.11% and resnet18 for 44 to 11.60% (chance: 10%; docs/zoo.md). The planner refuses below
# it (or below one epoch of a training set smaller than 50 batches) and names the budget that fits it.
MIN_STEPS = 50
REPLAN_S = 30.0  # the guard re-plans at least this often (seconds of training), mid-epoch included
TTA_VIEWS = {"none": 1, "flip": 2, "flip_translate": 6}
TTA_BUDGET_SHARE = 0.1  # the zoo's recipes plan without test-time views that would take more of the budget


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
    tta: str | None = None  # the test-time views planned for, when the plan turned the recipe's off

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def line(self) -> str:
        crops = f", a crop step {self.crop_ratio:.2f}x a full one" if self.crop_ratio != 1.0 else ""
        steps = round(self.epochs * self.steps_per_epoch)
        return (
            f"time budget {fmt_seconds(self.budget_s)}: {self.epochs:.4g} epochs ({steps} steps) planned "
            f"({fmt_seconds(self.planned_s)}: {1000 * self.step_s:.0f} ms a step{crops}, "
            f"{self.steps_per_epoch} steps an epoch, {self.eval_s:.1f} s an evaluation; "
            f"measuring took {self.probe_s:.1f} s)"
            + ("; test-time views off: they would take over a tenth of the budget" if self.tta == "none" else "")
        )


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
        return self.seconds_for_steps(max(1, round(self.steps_per_epoch * epochs)))

    def seconds_for_steps(self, steps: int) -> float:
        """Predicted training time of ``steps`` steps: each epoch started ends with a checkpoint and,
        where the run evaluates it, an evaluation (all of them, or the last ``eval_last``)."""
        whole = math.ceil(steps / self.steps_per_epoch)
        evaluations = whole if self.eval_last is None else min(whole, self.eval_last)
        return steps * self.step_s + (evaluations + self.restores) * self.eval_s + whole * self.checkpoint_s

    def fit_steps(self, budget: float) -> int:
        """The most steps whose :meth:`seconds_for_steps` fit ``budget``; 0 if not even one does."""
        lo, hi = 0, max(1, int(budget / self.step_s) + 1)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.seconds_for_steps(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def fit_epochs(self, budget: float) -> float:
        """The most epochs (in steps: ``steps / steps_per_epoch``) that fit ``budget``; 0.0 if none do."""
        return self.fit_steps(budget) / self.steps_per_epoch


def weighted_steps(start: int, end: int, switch: int, crop_ratio: float) -> float:
    """Steps ``start..end-1`` counted in full-size steps: those before ``switch`` are crops, each
    ``crop_ratio`` of a full step's time (progressive resizing; 1.0 without it)."""
    cropped = max(0, min(end, switch) - start)
    return cropped * crop_ratio + max(0, end - start - cropped)


class BudgetGuard:
    """Trainer callback that keeps a budgeted run inside its budget when the machine turns out slower
    (or faster) than the probe measured: a busy neighbour, thermal limits, a probe too short to see
    the per-epoch costs. After each epoch, and every ``REPLAN_S`` seconds within one (a run of one
    long epoch, or a fraction of one, has no epoch end to re-plan at), it re-fits the remaining steps
    to the time left, at the cost per step observed so far (steps, evaluations, checkpoints and plots
    included); the LR schedule stretches or shrinks to the new end. Changes under 3% of the steps still
    to come are ignored: early that keeps the schedule steady, and late it still lets the last re-plan
    fill the budget (a dead band over all the steps left seconds unused: DEVELOPERS.md). With
    progressive resizing the steps are weighed by the probe's crop/full time ratio, so cheap early crop
    steps do not promise cheap late full-size ones."""

    def __init__(self, seconds: float, eval_s: float, log=print, crop_ratio: float = 1.0, every: float = REPLAN_S):
        self.seconds, self.eval_s, self.log = seconds, eval_s, log or (lambda m: None)
        self.crop_ratio, self.every = crop_ratio, every
        self.checked = 0.0  # perf_counter of the last re-fit

    def on_epoch_end(self, trainer, row) -> None:
        self.check(trainer.plan)

    def on_step_end(self, trainer) -> None:
        if time.perf_counter() - max(self.checked, trainer.plan.started) >= self.every:
            self.check(trainer.plan)

    def check(self, plan: StepPlan) -> None:
        """Re-fit the steps still to come to the time left (``plan.resize``), saying so when it changes."""
        total, done = plan.total, plan.done
        self.checked = now = time.perf_counter()
        if done >= total or done == 0:
            return
        elapsed = plan.elapsed(now)
        left = SAFETY * (self.seconds - elapsed) - self.eval_s  # keep one test evaluation for the end
        # crop_until is 1.0 unless --crop is set (config validation), so plain runs keep the old rule
        new_total = self.fit(done, elapsed, left, plan.crop_until, plan.crop_steps)
        if abs(new_total - total) > 0.03 * (total - done):
            plan.resize(new_total)
            per_epoch = plan.steps_per_epoch
            self.log(
                f"time budget: re-planned to {plan.epochs:.2f} epochs "
                f"({elapsed / done * per_epoch:.1f} s an epoch so far; planned {total / per_epoch:.2f})"
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
    tta_share: float | None = None,
) -> BudgetPlan:
    """Measure this machine on the run's own settings and choose the steps that fit ``budget_s``.

    ``eval_images``: how many images one evaluation covers (validation + test); ``restores``: whether
    the run may end on an earlier epoch's weights, which the test set then sees once more;
    ``tta_share``: plan without test-time views (``plan.tta == "none"``) when their extra views would
    take more than this share of the budget. Raises a one-line ConfigError when fewer than
    ``MIN_STEPS`` steps fit, naming the budget that would.
    """
    t0 = time.perf_counter()
    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    rng = torch.get_rng_state()
    probe_cfg = replace(cfg, epochs=1, eval_from=2, patience=-1, target_acc=None, warmup_epochs=0, crop_until=1.0)
    trainer, step_s = _probe_steps(model, probe_cfg, train_x, train_y, budget_s)
    crop_ratio = 1.0
    if cfg.crop and cfg.crop_until < 1:
        # progressive resizing: crop steps first, then full-size ones, each timed on its own
        _, full_s = _probe_steps(model, replace(probe_cfg, crop=0), train_x, train_y, budget_s)
        crop_ratio = step_s / full_s
        step_s = cfg.crop_until * step_s + (1 - cfg.crop_until) * full_s
    eval_s, tta = views_that_pay(_probe_eval(trainer, train_x, train_y, eval_images), cfg.tta, budget_s, tta_share)
    checkpoint_s = _probe_checkpoint(trainer)
    torch.set_rng_state(rng)
    probe_s = time.perf_counter() - t0

    # A recipe that evaluates only its last epochs keeps doing so over the new length (apply_overrides).
    eval_last = math.ceil(cfg.epochs) - cfg.eval_from + 1 if cfg.eval_from > 1 else None
    available = SAFETY * (budget_s - probe_s)
    costs = RunCosts(step_s, steps_per_epoch, eval_s, checkpoint_s, eval_last, restores)
    steps = costs.fit_steps(available)
    floor = min(MIN_STEPS, steps_per_epoch)  # a training set under 50 batches: one pass over it
    if steps < floor:
        need = costs.seconds_for_steps(floor) / SAFETY + probe_s
        raise ConfigError(
            f"--time-budget {fmt_seconds(budget_s)} is too short here: it fits {steps} training steps, and a run needs "
            f"at least {floor} ({1000 * step_s:.0f} ms a step, evaluation {eval_s:.0f} s, measuring "
            f"{probe_s:.0f} s); raise --time-budget to {_duration_flag(need)}"
        )
    epochs = steps / steps_per_epoch
    return BudgetPlan(
        budget_s,
        probe_s,
        step_s,
        eval_s,
        checkpoint_s,
        steps_per_epoch,
        epochs,
        costs.seconds_for_steps(steps),
        crop_ratio,
        tta,
    )


def _probe_eval(trainer, train_x: torch.Tensor, train_y: torch.Tensor, eval_images: int) -> float:
    """Seconds of one evaluation of ``eval_images`` images, from one timed batch of the run's size."""
    n_eval = min(len(train_x), max(PROBE_EVAL_IMAGES, min(trainer.config.eval_batch_size, PROBE_EVAL_MAX)))
    # untimed: an evaluation's first call also picks its kernels, and would be charged to every later one
    trainer.evaluate(train_x[:100].to(trainer.device), train_y[:100].to(trainer.device))
    e0 = time.perf_counter()
    trainer.evaluate(train_x[:n_eval].to(trainer.device), train_y[:n_eval].to(trainer.device))
    return (time.perf_counter() - e0) * eval_images / n_eval


def _probe_checkpoint(trainer) -> float:
    """Seconds to write one checkpoint (with a margin): serialising dominates; the write is a memcpy to
    the page cache."""
    c0 = time.perf_counter()
    torch.save(trainer.checkpoint_state(), io.BytesIO())
    return 1.5 * (time.perf_counter() - c0)


def views_that_pay(eval_s: float, tta: str, budget_s: float, share: float | None) -> tuple[float, str | None]:
    """(evaluation seconds, ``"none"`` or None): an evaluation with ``tta``'s views, as measured, or
    with one view when the extra ones would take more than ``share`` of the budget."""
    views = TTA_VIEWS[tta]
    if share is None or views == 1 or eval_s * (1 - 1 / views) <= share * budget_s:
        return eval_s, None
    return eval_s / views, "none"


def _duration_flag(seconds: float) -> str:
    """A --time-budget value at least ``seconds`` long: whole seconds under 2 minutes, else whole minutes."""
    return f"{math.ceil(seconds)}s" if seconds < 120 else f"{math.ceil(seconds / 60)}m"


def _probe_steps(
    model: torch.nn.Module, cfg: TrainConfig, train_x: torch.Tensor, train_y: torch.Tensor, budget_s: float
):
    """(the probe's Trainer, seconds per step): a few timed training steps of a copy of ``model`` --
    ``PROBE_STEPS``, or as few as 2 when the untimed warm-up steps show that more would take over
    ``PROBE_SHARE`` of the budget. A model whose warm-up shows that not even the floor's steps can
    fit is refused there, before any more of the budget goes to measuring it."""
    from .trainer import Trainer

    t0 = time.perf_counter()
    trainer = Trainer(copy.deepcopy(model), config=cfg, progress=False, log=None)
    warm = min(len(train_x), cfg.batch_size * WARMUP_STEPS)
    trainer.train(train_x[:warm], train_y[:warm])  # untimed: first-step kernel selection and allocation
    warm_step_s = trainer.history[0]["seconds"] / math.ceil(warm / cfg.batch_size)  # an upper bound
    # A step after the first is at least half a warm-up one (the first picks kernels): a lower bound.
    floor = min(MIN_STEPS, math.ceil(len(train_x) / cfg.batch_size))
    need = time.perf_counter() - t0 + floor * warm_step_s / 2
    if need > budget_s:
        raise ConfigError(
            f"--time-budget {fmt_seconds(budget_s)} is too short here: a training step takes about "
            f"{warm_step_s:.0f} s, and a run needs at least {floor}; raise --time-budget to at least "
            f"{_duration_flag(need)}"
        )
    timed = max(2, min(PROBE_STEPS, int(PROBE_SHARE * budget_s / max(warm_step_s, 1e-9))))
    probe_n = min(len(train_x), cfg.batch_size * (WARMUP_STEPS + timed))
    trainer = Trainer(trainer.net, config=cfg, progress=False, log=None)
    trainer.train(train_x[:probe_n], train_y[:probe_n])
    return trainer, trainer.history[0]["seconds"] / math.ceil(probe_n / cfg.batch_size)
