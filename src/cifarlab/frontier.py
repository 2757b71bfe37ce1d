"""Which recipe to train when only a time budget is given: ``cifarlab train --time-budget 20m``.

A small table of measured points per machine class -- (budget, recipe, accuracy reached) -- and the rule:
the recipe with the highest accuracy among the points that fit the budget; below every point, the quickest
recipe. The budget planner (budget.py) then lays the chosen recipe's schedule over the whole budget, so a
longer budget than the point's still gains (more epochs). Every point names where it was measured; all CPU
points are from 2-core AMD EPYC hosts (docs/performance.md, docs/zoo.md): a host with more cores gets the
same choice, which is then conservative. A point marked ``estimated`` says so in the line it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Point:
    machine: str  # cpu-bf16 | cpu-fp32 | cuda
    seconds: float  # the whole run took this long (or its budget was this)
    recipe: str
    acc: float  # test accuracy reached (single seed or median), on the JPEG-derived CIFAR-10 copy
    source: str
    # Not measured on the class itself: fp32 arithmetic on a bf16 host, over the budget in which it takes
    # as many steps as the class's measured host takes in ``seconds``
    # (docs/bench/performance-log/README.md, "step-matched").
    estimated: bool = False


TABLE: tuple[Point, ...] = (
    Point("cpu-bf16", 65, "fast", 0.8347, "docs/performance.md: 82.7% at 59.7 s, ends 83.2-83.7% (Zen 4, 3 seeds)"),
    # the frontier itself: `cifarlab train --time-budget T` through this picker (docs/bench/frontier-zen4)
    Point("cpu-bf16", 120, "fast", 0.8538, "docs/performance.md: frontier, 2 min: 85.38% (Zen 4, seed 0)"),
    Point("cpu-bf16", 300, "fast", 0.8716, "docs/performance.md: frontier, 5 min: 87.16% (Zen 4, median of 3)"),
    Point("cpu-bf16", 420, "fast", 0.8779, "docs/performance.md: fast over 7 min: 87.79% (Zen 4, mean of 2 seeds)"),
    Point("cpu-bf16", 420, "fast90-sel", 0.8770, "docs/performance.md: fast90-sel, 7 min: 87.70% (Zen 4, 2 seeds)"),
    Point("cpu-bf16", 600, "fast", 0.8760, "docs/performance.md: frontier, 10 min: 87.60% (Zen 4, seed 0)"),
    # fast89, `--recipe fast90-sel --model-arg width=0.5 --time-budget T` (docs/bench/width-zen4)
    Point("cpu-bf16", 120, "fast89", 0.8149, "docs/performance.md: fast89, 2 min: 81.49% (Zen 4, seed 0)"),
    Point("cpu-bf16", 300, "fast89", 0.8817, "docs/performance.md: fast89, 5 min: 88.17% (Zen 4, median of 3)"),
    Point("cpu-bf16", 420, "fast89", 0.8933, "docs/performance.md: fast89, 7 min: 89.33% (Zen 4, mean of 2 seeds)"),
    Point("cpu-bf16", 600, "fast89", 0.8962, "docs/performance.md: fast89, 10 min: 89.62% (Zen 4, seed 0)"),
    Point("cpu-bf16", 600, "fast90", 0.8934, "docs/performance.md: fast90 over 10 min: 89.34% (Zen 4, seed 0)"),
    Point("cpu-bf16", 600, "fast90-sel", 0.9000, "docs/performance.md: fast90-sel, 10 min: 90.00% (Zen 4, 3 seeds)"),
    Point("cpu-bf16", 1200, "fast90", 0.9101, "docs/performance.md: frontier, 20 min: 91.01% (Zen 4, median of 3)"),
    Point("cpu-bf16", 1200, "fast90-sel", 0.9128, "docs/performance.md: fast90-sel, 20 min: 91.28% (Zen 4, 3 seeds)"),
    Point("cpu-bf16", 2100, "fast90", 0.9135, "docs/performance.md: frontier, 35 min: 91.35% (Zen 4, seed 0)"),
    Point("cpu-bf16", 2100, "fast90-sel", 0.9141, "docs/performance.md: frontier, 35 min: 91.41% (Zen 4, seed 0)"),
    Point("cpu-bf16", 3600, "fast90", 0.9176, "docs/performance.md: frontier, 60 min: 91.76% (Zen 4, seed 0)"),
    Point("cpu-bf16", 3600, "fast90-sel", 0.9141, "docs/performance.md: fast90-sel, 60 min: 91.41% (Zen 4, seed 0)"),
    Point("cpu-fp32", 150, "fast", 0.8344, "docs/performance.md: 82.7% at 139.8 s, ends 83.3-83.6% (Zen 3, 3 seeds)"),
    Point("cpu-fp32", 3258, "fast90", 0.9052, "docs/performance.md: fast90 90.05-90.59% in 43-56 min (Zen 3, median)"),
    # a Zen 3's 20 minutes of steps are 695 s of a Zen 4's in fp32 (docs/bench/fp32-host-estimate-zen4, width-zen4)
    Point("cpu-fp32", 1200, "fast", 0.8800, "docs/performance.md: fast, 88.00% (seed 0)", estimated=True),
    Point("cpu-fp32", 1200, "fast89", 0.8943, "docs/performance.md: fast89, 89.43% (median of 3)", estimated=True),
    # the rest of the estimated fp32 frontier: 2, 5, 10, 15 and 60 minutes (docs/bench/fp32-frontier-zen4)
    Point("cpu-fp32", 120, "fast", 0.8141, "docs/performance.md: fp32, 2 min: 81.41% (seed 0)", estimated=True),
    Point("cpu-fp32", 300, "fast", 0.8548, "docs/performance.md: fp32, 5 min: 85.48% (median of 3)", estimated=True),
    Point("cpu-fp32", 300, "fast89", 0.7956, "docs/performance.md: fp32, 5 min: 79.56% (seed 0)", estimated=True),
    Point("cpu-fp32", 600, "fast", 0.8716, "docs/performance.md: fp32, 10 min: 87.16% (seed 0)", estimated=True),
    Point("cpu-fp32", 600, "fast89", 0.8643, "docs/performance.md: fp32, 10 min: 86.43% (seed 0)", estimated=True),
    # a Zen 3's 12.5 minutes, where the hand-over from fast to fast89-wide was sought (docs/bench/fp32-frontier-zen4)
    Point("cpu-fp32", 750, "fast", 0.8747, "docs/performance.md: fp32, 12.5 min: 87.47% (seed 0)", estimated=True),
    Point(
        "cpu-fp32", 750, "fast89-wide", 0.8732, "docs/performance.md: fp32, 12.5 min: 87.32% (seed 0)", estimated=True
    ),
    Point("cpu-fp32", 900, "fast", 0.8747, "docs/performance.md: fp32, 15 min: 87.47% (seed 0)", estimated=True),
    Point("cpu-fp32", 900, "fast89-wide", 0.8841, "docs/performance.md: fp32, 15 min: 88.41% (seed 0)", estimated=True),
    Point("cpu-fp32", 3600, "fast90-sel", 0.9128, "docs/performance.md: fp32, 60 min: 91.28% (seed 0)", estimated=True),
    Point(
        "cpu-fp32", 3600, "fast89-wide", 0.9072, "docs/performance.md: fp32, 60 min: 90.72% (seed 0)", estimated=True
    ),
    # fast89 with a 256-channel last group: the median of all its runs on the step-matched 20 minutes,
    # fifteen over four sessions (docs/bench/arch-zen4, hyper-zen4, wide-proxy-zen4, crops-wd-zen4); its
    # first three alone gave 89.85%, and same-seed repeats moved by up to half a point between sessions
    Point(
        "cpu-fp32",
        1200,
        "fast89-wide",
        0.8955,
        "docs/performance.md: fast89-wide, 89.55% (median of 15 runs)",
        estimated=True,
    ),
    Point("cuda", 6, "fast", 0.83, "docs/performance.md: 82.7% in 5.8 s (H200, bf16)"),
    Point("cuda", 8, "fast90", 0.90, "docs/performance.md: 90% in 7.9 s (H200, bf16)"),
    Point("cuda", 60, "fast94", 0.9350, "docs/performance.md: 93.50% (median of 3) in 54-68 s (H200, bf16)"),
)


def machine_class(device: torch.device) -> str:
    """cuda, or a CPU with native bf16 (autocast 'auto' picks bf16 there), or an fp32 CPU."""
    from .speed import resolve_amp

    if device.type == "cuda":
        return "cuda"
    if device.type == "cpu":
        return "cpu-bf16" if resolve_amp("auto", device) == torch.bfloat16 else "cpu-fp32"
    return "cpu-fp32"  # mps and others: no measurements; the conservative table


def pick(budget_s: float, device: torch.device) -> tuple[str, str]:
    """(recipe, one line saying which and why) for a budget of ``budget_s`` seconds on ``device``."""
    from .budget import fmt_seconds as _fmt

    machine = machine_class(device)
    points = [p for p in TABLE if p.machine == machine]
    fits = [p for p in points if p.seconds <= budget_s]
    if fits:
        best = max(fits, key=lambda p: (p.acc, -p.seconds))
        why = f"the most {'known' if best.estimated else 'measured'} within {_fmt(budget_s)}"
    else:
        best = min(points, key=lambda p: p.seconds)
        why = f"the quickest measured; {_fmt(budget_s)} is shorter, so it trains fewer epochs"
    where = best.source.split(":")[0]
    estimate = ", estimated from step-matched runs on a bf16 host" if best.estimated else ""
    return best.recipe, (
        f"note: no model or recipe given: recipe '{best.recipe}', {why} on a {machine} host "
        f"({100 * best.acc:.2f}% in {_fmt(best.seconds)}{estimate}, {where}); its schedule is laid over the budget"
    )
