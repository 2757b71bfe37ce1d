"""The zoo table: how far each architecture gets on this machine in a fixed time budget.

``cifarlab bench --zoo --time-budget 10m`` trains each model by name (its own recipe, seed 0, selected
on validation, test reported) with :mod:`cifarlab.budget` laying the schedule over the budget, and
records what the budget probe measured (train and eval images/s here). Results accumulate in
``OUT/zoo.json`` keyed by model, so a long table can be filled over several invocations or
sessions; ``zoo.md`` and ``zoo.png`` (accuracy against training time and parameters) are redrawn
from all of it each time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .errors import CifarlabError
from .fileio import atomic_write_bytes
from .models import count_parameters, create_model, forward_flops, model_info
from .runs import atomic_write_json, check_writable


def host() -> dict[str, Any]:
    """What the figures were measured on: CPU (with its family/model numbers, which tell Zen 1/3/4
    apart), bf16 support, threads, torch."""
    from .speed import cpu_has_fast_bf16, device_name

    info: dict[str, Any] = {
        "cpu": device_name(torch.device("cpu")),
        "bf16": cpu_has_fast_bf16(),
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
    }
    try:
        fields = dict(ln.split(":", 1) for ln in Path("/proc/cpuinfo").read_text().splitlines() if ":" in ln)
        info["cpu_family"], info["cpu_model"] = fields["cpu family\t"].strip(), fields["model\t\t"].strip()
    except (OSError, KeyError, ValueError):
        pass
    return info


def measure(name: str, budget_s: float, arrays, out: Path, seed: int = 0, data_overrides: dict | None = None) -> dict:
    """Train ``name`` by name within ``budget_s``; one row of the table (or of what did not fit)."""
    from .config import apply_overrides
    from .experiment import run_experiment
    from .recipes import for_model

    info = model_info(name)
    config = for_model(name)  # its recipe may set the model's options (fast: a half-width fastnet)
    with torch.device("meta"):
        shape_only = create_model(name, **config.model_kwargs)
    row: dict[str, Any] = {
        "model": name,
        "model_kwargs": dict(config.model_kwargs),
        "family": info.family,
        "recipe": config.recipe,
        "parameters": count_parameters(shape_only),
        "mflops": round(forward_flops(shape_only) / 1e6, 2),
        "published": info.published,
        "budget_s": budget_s,
        "seed": seed,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    apply_overrides(
        config,
        {
            "time_budget": budget_s,
            "seed": seed,
            "out": str(out / "runs"),
            "name": f"{name}-{int(budget_s)}s-seed{seed}",
            **(data_overrides or {}),
        },
    )
    try:
        run = run_experiment(config.validate(), arrays=arrays, progress=False, report=False, log=lambda m: None)
    except CifarlabError as e:  # e.g. not even one epoch fits: that is a result too
        return {**row, "error": str(e)}
    s = run.summary
    plan = s["time_budget"]
    return {
        **row,
        "test_acc": s["test_acc"],
        "best_val_acc": s["best_val_acc"],
        "epochs": s["epochs_trained"],
        "train_img_s": config.train.batch_size / plan["step_s"],
        "eval_img_s": (s["val_images"] + s["test_images"]) / plan["eval_s"],  # with the recipe's test-time views
        "wall_s": s["wall_seconds"],
        "probe_s": plan["probe_s"],
        "used_s": plan["probe_s"] + s["wall_seconds"],
        "run_dir": str(run.path),
    }


def run(
    models: Sequence[str],
    budget_s: float,
    out: str | Path,
    data: str | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Path:
    """Measure ``models`` and merge them into ``OUT/zoo.json``; redraw zoo.md and zoo.png. Returns OUT."""
    from .data import load_cifar10

    for name in models:
        model_info(name)  # unknown names fail before any training
    out = check_writable(out)
    arrays = load_cifar10(data, progress=False)
    table_file = out / "zoo.json"
    table = json.loads(table_file.read_text()) if table_file.exists() else {"host": host(), "rows": {}}
    for name in models:
        log(f"{name}: training for {budget_s:.0f} s ...")
        row = measure(name, budget_s, arrays, out, seed, {"data": data} if data else None)
        row["host"] = host()
        table["rows"][name] = row
        log(
            f"{name}: "
            + (
                row["error"]
                if "error" in row
                else f"{100 * row['test_acc']:.2f}% test after {row['epochs']:g} epochs, {row['used_s']:.0f} s"
            )
        )
        atomic_write_json(table_file, table)  # after every model: a long run keeps what it measured
        atomic_write_bytes(out / "zoo.md", markdown(table).encode())
        plot(table, out / "zoo.png")
    return out


def markdown(table: dict[str, Any]) -> str:
    rows = sorted(table["rows"].values(), key=lambda r: -r.get("test_acc", -1))
    lines = [
        "| model | family | parameters | MFLOPs | recipe | train img/s | eval img/s | epochs | test acc | "
        "time used | published (source) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            result = f"– | – | – | did not fit: {r['error'].split(': ', 1)[-1].split(';')[0]} | –"
        else:
            result = (
                f"{r['train_img_s']:.0f} | {r['eval_img_s']:.0f} | {r['epochs']:g} | **{100 * r['test_acc']:.2f}%** | "
                f"{r['used_s'] / 60:.1f} min"
            )
        options = ", ".join(f"{k}={v}" for k, v in r.get("model_kwargs", {}).items())
        label = f"{r['model']} ({options})" if options else r["model"]
        lines.append(
            f"| {label} | {r['family']} | {r['parameters']:,} | {r['mflops']:.0f} | {r['recipe']} | "
            f"{result} | {r['published'] or '–'} |"
        )
    hosts = {
        f"{r['host']['cpu']}, cpu family {r['host'].get('cpu_family')} model {r['host'].get('cpu_model')}, "
        f"bf16 {'yes' if r['host']['bf16'] else 'no'}, {r['host']['threads']} threads"
        for r in rows
    }
    lines += ["", "Measured on: " + "; ".join(sorted(hosts)) + "."]
    return "\n".join(lines) + "\n"


def plot(table: dict[str, Any], path: Path) -> Path:
    from matplotlib.figure import Figure

    from .plots import save_figure

    rows = [r for r in table["rows"].values() if "error" not in r]
    fig = Figure(figsize=(12, 4.8))
    ax_t, ax_p = fig.subplots(1, 2)
    for r in rows:
        for ax, x in ((ax_t, r["used_s"] / 60), (ax_p, r["parameters"] / 1e6)):
            ax.scatter(x, 100 * r["test_acc"], s=25)
            ax.annotate(r["model"], (x, 100 * r["test_acc"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax_t.set_xlabel("training time used (min, budget probe included)")
    ax_p.set_xlabel("parameters (millions)")
    ax_p.set_xscale("log")
    budgets = sorted({r["budget_s"] for r in rows})
    for ax in (ax_t, ax_p):
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle(f"CIFAR-10 test accuracy in a {', '.join(f'{b / 60:g}' for b in budgets)}-minute budget, this host")
    fig.tight_layout()
    return save_figure(fig, path)
