"""The step plan: how many steps a run takes, where its epochs end, which steps train on crops and
which epochs are evaluated.

The :class:`~cifarlab.training.trainer.Trainer` follows a plan; a time budget's guard
(:class:`~cifarlab.training.budget.BudgetGuard`) reads the steps done and the clock from it and
changes its length with :meth:`StepPlan.resize`. Neither reaches into the other: everything that
depends on the run's length (the LR schedule, the last epoch, the crop phase, the first evaluated
epoch, Lookahead's end) asks the plan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class StepPlan:
    """``total`` steps of ``steps_per_epoch`` each epoch; the last epoch may be a part of one.

    ``planned``: the length first asked for (the config's epochs), kept when a guard resizes the run;
    ``warmup``: the LR warm-up's steps; ``crop_until``: the share of the steps trained on crops
    (progressive resizing; 1.0 without it); ``eval_from``: the config's first evaluated epoch.
    ``done`` counts the steps taken and ``started`` is the run's clock (``time.perf_counter``)."""

    steps_per_epoch: int
    total: int
    warmup: int = 0
    crop_until: float = 1.0
    eval_from_config: int = 1
    planned: int = 0
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    _listeners: list[Callable[[int], None]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.total = max(1, self.total)
        self.planned = self.planned or self.total

    @classmethod
    def for_epochs(
        cls,
        steps_per_epoch: int,
        epochs: float,
        warmup_epochs: float = 0.0,
        crop_until: float = 1.0,
        eval_from: int = 1,
    ) -> StepPlan:
        """The plan of ``epochs`` (fractional: a part of a last epoch, the first batches of its order)."""
        return cls(
            steps_per_epoch=steps_per_epoch,
            total=max(1, round(steps_per_epoch * epochs)),
            warmup=round(warmup_epochs * steps_per_epoch),
            crop_until=crop_until,
            eval_from_config=eval_from,
        )

    @property
    def last_epoch(self) -> int:
        return math.ceil(self.total / self.steps_per_epoch)

    def steps_in(self, epoch: int) -> int:
        """Steps of ``epoch``: a whole epoch's, or fewer in the partial last one."""
        return min(self.steps_per_epoch, self.total - (epoch - 1) * self.steps_per_epoch)

    @property
    def epochs(self) -> float:
        return self.total / self.steps_per_epoch

    @property
    def eval_from(self) -> int:
        """First evaluated epoch: the config's, moved with the end when the run is resized, so a recipe
        that evaluates its last epochs only still does (not every epoch between the planned end and
        the new one, each of which would cost a whole evaluation)."""
        if self.eval_from_config <= 1:
            return self.eval_from_config
        planned_last = math.ceil(self.planned / self.steps_per_epoch)
        return max(1, self.eval_from_config + self.last_epoch - planned_last)

    @property
    def crop_steps(self) -> int:
        """Steps trained on crops (progressive resizing: the first ``crop_until`` of them)."""
        return round(self.crop_until * self.total)

    def elapsed(self, now: float | None = None) -> float:
        return (time.perf_counter() if now is None else now) - self.started

    def resize(self, total: int) -> int:
        """Change the run's length to ``total`` steps (never below those taken, at least 1), from the
        next step on; whatever follows the end (Lookahead) is told. Returns the new length."""
        self.total = max(total, self.done, 1)
        for listener in self._listeners:
            listener(self.total)
        return self.total

    def on_resize(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    def state_dict(self) -> dict[str, int]:
        return {"step": self.done, "planned_steps": self.planned, "total_steps": self.total}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """A checkpoint's steps; its length only where it was planned alike (a new --epochs wins)."""
        if state.get("total_steps") and state.get("planned_steps") == self.planned:
            self.resize(int(state["total_steps"]))
        self.done = int(state["step"])
