"""Learning-rate schedules as pure functions of the step.

``lr_factor(step, total_steps, ...)`` returns the multiplier of the base learning rate for the
optimizer step about to be taken (0-based). Being a pure function of the step, a resumed run needs
nothing but the step count to continue the schedule exactly.
"""

from __future__ import annotations

import math


def lr_factor(
    step: int,
    total_steps: int,
    schedule: str = "constant",
    *,
    warmup_steps: int = 0,
    steps_per_epoch: int = 1,
    step_size: int = 30,
    gamma: float = 0.1,
) -> float:
    """Multiplier of the base LR at ``step`` (0-based) of ``total_steps``.

    - ``constant``: 1.
    - ``step``: ``gamma ** (epoch // step_size)``.
    - ``cosine``: half a cosine from 1 towards 0 over the steps after warm-up.
    - ``onecycle``: linear from 0 up to 1 over the warm-up, then linear down towards 0 at the end (the
      triangular one-cycle used by the fast CIFAR trainers). Without a warm-up it starts at 1.

    Every schedule is preceded by a linear warm-up from ``1/warmup_steps`` to 1 over ``warmup_steps``.
    """
    if total_steps <= 0:
        raise ValueError("total_steps must be positive")
    step = min(max(step, 0), total_steps - 1)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return gamma ** ((step // max(steps_per_epoch, 1)) // step_size)
    # Progress through the post-warm-up part: 0 at its first step, approaching 1 at the last (so
    # the last step still learns a little rather than taking a zero step).
    t = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "onecycle":
        return 1.0 - t
    raise ValueError(f"unknown schedule '{schedule}'")
