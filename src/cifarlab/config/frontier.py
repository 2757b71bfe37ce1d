"""Which recipe to train when only a time budget is given: ``cifarlab train --time-budget 20m``.

A small table of measured points per machine class -- (budget, recipe, accuracy reached), kept in
``frontier.csv`` beside this module with the source of each -- and the rule:
the recipe with the highest accuracy among the points that fit the budget; below every point, the quickest
recipe. The budget planner (budget.py) then lays the chosen recipe's schedule over the whole budget, so a
longer budget than the point's still gains (more epochs). Every point names where it was measured; all CPU
points are from 2-core hosts, AMD EPYC (cpu-bf16, cpu-fp32) and Intel Xeon with AMX (cpu-amx)
(docs/performance.md): a host with more cores gets the same choice, which is then conservative. A point
marked ``estimated`` says so in the line it gives.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

TABLE_FILE = Path(__file__).with_name("frontier.csv")  # the measurements: data, not code


@dataclass(frozen=True)
class Point:
    machine: str  # cpu-amx | cpu-bf16 | cpu-fp32 | cuda
    seconds: float  # the whole run took this long (or its budget was this)
    recipe: str
    acc: float  # test accuracy reached (single seed or median), on the JPEG-derived CIFAR-10 copy
    source: str
    # Not measured on the class itself: fp32 arithmetic on a bf16 host, over the budget in which it takes
    # as many steps as the class's measured host takes in ``seconds``
    # (docs/bench/performance-log/README.md, "step-matched").
    estimated: bool = False


def load_table(path: Path = TABLE_FILE) -> tuple[Point, ...]:
    """The measured points, from the data file beside this module (one row per point, with its source)."""
    with open(path, newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return tuple(
            Point(
                r["machine"],
                float(r["seconds"]),
                r["recipe"],
                float(r["acc"]),
                r["source"],
                estimated=r["estimated"] == "yes",
            )
            for r in rows
        )


TABLE = load_table()
# A class without rows of its own takes another's: an Intel Xeon with AMX has native bf16 as a Zen 4 has.
STAND_IN = {"cpu-amx": "cpu-bf16"}


def machine_class(device: torch.device) -> str:
    """cuda; a CPU with AMX tiles (Intel Xeon, 4th generation on), or another with native bf16 (AVX512-BF16:
    autocast 'auto' picks bf16 on both); or an fp32 CPU."""
    from ..core.host import cpu_flags, cpu_has_fast_bf16

    if device.type == "cuda":
        return "cuda"
    if device.type == "cpu" and cpu_has_fast_bf16():
        return "cpu-amx" if "amx_bf16" in cpu_flags() else "cpu-bf16"
    return "cpu-fp32"  # fp32 CPUs, and mps and others: no measurements; the conservative table


def pick(budget_s: float, device: torch.device) -> tuple[str, str]:
    """(recipe, one line saying which and why) for a budget of ``budget_s`` seconds on ``device``."""
    from ..core.durations import fmt_seconds as _fmt

    machine = machine_class(device)
    points = [p for p in TABLE if p.machine == machine]
    stand_in = ""
    if not points and machine in STAND_IN:
        stand_in = f"; this {machine} host has no rows of its own yet and gets the {STAND_IN[machine]} ones"
        machine = STAND_IN[machine]
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
        f"{stand_in}"
    )
