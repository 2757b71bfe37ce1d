"""The zoo table: how far each architecture gets on this machine in a fixed time budget.

``cifarlab bench --zoo --time-budget 10m`` trains each model by name (its own recipe, seed 0, selected
on validation, test reported) with :mod:`cifarlab.training.budget` laying the schedule over the budget, and
records what the budget probe measured (train and eval images/s here). Results accumulate in
``OUT/zoo.json`` keyed by model, so a long table can be filled over several invocations or
sessions; ``zoo.md`` and ``zoo.png`` (accuracy against training time and parameters) are redrawn
from all of it each time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..core.errors import CifarlabError
from ..core.fileio import atomic_write_bytes, atomic_write_json
from ..models.registry import count_parameters, create_model, forward_flops, model_info
from ..runs.folder import check_writable


def host() -> dict[str, Any]:
    """What the figures were measured on (core.host.host_info), under the keys the zoo's JSON has used
    since its first table: ``cpu``, ``bf16``, ``threads``, ``torch``, ``cpu_family``, ``cpu_model``."""
    from ..core.host import host_info

    info = host_info(torch.device("cpu"))
    return {
        "cpu": info["device_name"],
        "bf16": info["bf16"],
        "amx": info["amx"],
        "threads": info["threads"],
        "torch": info["torch_version"],
        "cpu_family": info["cpu_family"],
        "cpu_model": info["cpu_model"],
    }


def measure(name: str, budget_s: float, arrays, out: Path, seed: int = 0, data_overrides: dict | None = None) -> dict:
    """Train ``name`` by name within ``budget_s``; one row of the table (or of what did not fit)."""
    from ..config.overrides import apply_overrides
    from ..config.recipes import for_model
    from ..experiment import run_experiment

    info = model_info(name)
    config = for_model(name, budget=budget_s)  # its recipe may set the model's options (fast: a half-width fastnet)
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
        "run_dir": os.path.relpath(run.path, out),  # relative: the table travels with its folder
    }


def start_baseline(name: str, budget_s: float, seed: int, out: Path, data: str | None, threads: int):
    """The textbook loop (baseline.py) on ``name`` in a process of its own, started now: (process, its JSON)."""
    result = out / "baseline" / f"{name}-{int(budget_s)}s-seed{seed}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)  # a stale result must not pass for this run's
    cmd = [sys.executable, "-m", "cifarlab.tools.baseline", "--model", name, "--budget", str(budget_s)]
    cmd += ["--seed", str(seed), "--threads", str(threads), "--json", str(result)] + (["--data", data] if data else [])
    log_path = out / "baseline" / f"{result.stem}.log"
    log_path.unlink(missing_ok=True)  # a planted symlink goes, not what it points to; O_EXCL: no new one followed
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    with os.fdopen(fd, "w") as log_file:
        return subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), result


def finish_baseline(proc: subprocess.Popen, result: Path) -> dict[str, Any]:
    """Wait for the textbook run; its result, or the error it ended with."""
    code = proc.wait()
    if code != 0 or not result.exists():
        return {"error": f"the baseline exited with {code}; see {result.with_suffix('.log')}"}
    return json.loads(result.read_text())


def run(
    models: Sequence[str],
    budget_s: float,
    out: str | Path,
    data: str | None = None,
    seeds: Sequence[int] = (0,),
    baseline: bool = False,
    threads: int = 0,
    log: Callable[[str], None] = print,
) -> Path:
    """Measure ``models`` (each seed) and merge them into ``OUT/zoo.json``; redraw zoo.md and zoo.png.

    ``baseline``: also train each with the textbook loop at the same time, one thread each (unless
    ``threads`` says otherwise), so that both see the same machine. Returns OUT."""
    from ..data.cifar import load_cifar10

    for name in models:
        model_info(name)  # unknown names fail before any training
    out = check_writable(out)
    table_file = out / "zoo.json"
    table = _read_table(table_file)
    arrays = load_cifar10(data, progress=False)
    threads = threads or (1 if baseline else 0)
    overrides = {**({"data": data} if data else {}), **({"threads": threads} if threads else {})}
    for name in models:
        for seed in seeds:
            beside = " beside the textbook loop" if baseline else ""
            log(f"{name}, seed {seed}: training for {budget_s:.0f} s{beside}")
            side = start_baseline(name, budget_s, seed, out, data, threads) if baseline else None
            row = measure(name, budget_s, arrays, out, seed, overrides)
            if side is not None:
                row["baseline"] = finish_baseline(*side)
            row["host"] = host()
            table["rows"][f"{name}-{int(budget_s)}s-seed{seed}"] = row
            log(f"{name}, seed {seed}: {_outcome(row)}")
            atomic_write_json(table_file, table)  # after every run: a long benchmark keeps what it measured
            atomic_write_bytes(out / "zoo.md", markdown(table).encode())
            plot(table, out / "zoo.png")
    return out


def _read_table(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"host": host(), "rows": {}}
    try:
        table = json.loads(path.read_text())
        if not isinstance(table.get("rows"), dict):
            raise ValueError
        return table
    except (ValueError, AttributeError, OSError) as e:
        hint = "move it away or pick another --out"
        raise CifarlabError(f"{path} is not a zoo table ({type(e).__name__}); {hint}") from e


def _outcome(row: dict[str, Any]) -> str:
    text = row["error"] if "error" in row else f"{100 * row['test_acc']:.2f}% after {row['epochs']:g} epochs"
    if "error" not in row:
        text += f", {row['used_s']:.0f} s of {row['budget_s']:.0f}"
    base = row.get("baseline")
    if base:
        text += "; textbook loop: " + (
            base["error"] if "error" in base else f"{100 * base['test_acc']:.2f}% after {base['epochs']:g} epochs"
        )
    return text


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(table: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per (model, budget): the median over its seeds, the baseline's median beside it."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in table["rows"].values():
        groups.setdefault((r["model"], r["budget_s"]), []).append(r)
    lines = []
    for rows in groups.values():
        ok = [r for r in rows if "error" not in r]
        bases = [r["baseline"] for r in rows if r.get("baseline") and "error" not in r["baseline"]]
        first = (ok or rows)[0]
        lines.append(
            {
                **first,
                "seeds": sorted(r["seed"] for r in ok),
                "test_acc": _median([r["test_acc"] for r in ok]) if ok else None,
                "all_test_acc": [r["test_acc"] for r in sorted(ok, key=lambda r: r["seed"])],
                "used_s": _median([r["used_s"] for r in ok]) if ok else None,
                "epochs": _median([r["epochs"] for r in ok]) if ok else None,
                "baseline_acc": _median([b["test_acc"] for b in bases]) if bases else None,
                "baseline_epochs": _median([b["epochs"] for b in bases]) if bases else None,
            }
        )
    return sorted(lines, key=lambda r: -(r["test_acc"] if r["test_acc"] is not None else -1))


def _label(row: dict[str, Any]) -> str:
    """The model's name with the options its recipe gives it (fast: ``fastnet (width=0.5, ...)``)."""
    options = ", ".join(f"{k}={v}" for k, v in row.get("model_kwargs", {}).items())
    return f"{row['model']} ({options})" if options else row["model"]


def markdown(table: dict[str, Any]) -> str:
    lines = [
        "| model | family | parameters | MFLOPs | recipe | train img/s | epochs | test acc | time used | "
        "textbook loop | published (source) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    rows = summarise(table)
    for r in rows:
        if r["test_acc"] is None:
            result = f"– | – | did not fit: {r['error'].split(': ', 1)[-1].split(';')[0]} | –"
        else:
            seeds = f" (median of {len(r['seeds'])})" if len(r["seeds"]) > 1 else ""
            result = (
                f"{r['train_img_s']:.0f} | {r['epochs']:.3g} | **{100 * r['test_acc']:.2f}%**{seeds} | "
                f"{r['used_s'] / 60:.1f} min"
            )
        base = "–"
        if r["baseline_acc"] is not None:
            below = r["test_acc"] is not None and r["test_acc"] < r["baseline_acc"]
            base = f"{100 * r['baseline_acc']:.2f}% ({r['baseline_epochs']:.3g} ep)"
            base += " **▼ lab below**" if below else ""
        lines.append(
            f"| {_label(r)} | {r['family']} | {r['parameters']:,} | {r['mflops']:.0f} | {r['recipe']} | "
            f"{result} | {base} | {r['published'] or '–'} |"
        )
    hosts = {
        f"{r['host']['cpu']}, cpu family {r['host'].get('cpu_family')} model {r['host'].get('cpu_model')}, "
        f"bf16 {'yes' if r['host']['bf16'] else 'no'}, {r['host']['threads']} threads"
        for r in table["rows"].values()
    }
    lines += ["", "Measured on: " + "; ".join(sorted(hosts)) + "."]
    return "\n".join(lines) + "\n"


def plot(table: dict[str, Any], path: Path) -> Path:
    from matplotlib.figure import Figure

    from ..plots import save_figure

    rows = [r for r in summarise(table) if r["test_acc"] is not None]
    fig = Figure(figsize=(12, 4.8))
    ax_t, ax_p = fig.subplots(1, 2)
    for r in rows:
        for ax, x in ((ax_t, r["used_s"] / 60), (ax_p, r["parameters"] / 1e6)):
            dot = ax.scatter(x, 100 * r["test_acc"], s=25)
            ax.annotate(r["model"], (x, 100 * r["test_acc"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
            if r["baseline_acc"] is not None:  # the textbook loop on the same network: a hollow ring below/above
                ax.scatter(x, 100 * r["baseline_acc"], s=40, facecolors="none", edgecolors=dot.get_facecolor())
                ax.plot([x, x], [100 * r["baseline_acc"], 100 * r["test_acc"]], lw=0.6, color=dot.get_facecolor()[0])
    ax_t.set_xlabel("training time used (min, budget probe included; rings: the textbook loop)")
    ax_p.set_xlabel("parameters (millions)")
    ax_p.set_xscale("log")
    budgets = sorted({r["budget_s"] for r in rows})
    for ax in (ax_t, ax_p):
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle(f"CIFAR-10 test accuracy in a {', '.join(f'{b / 60:g}' for b in budgets)}-minute budget, this host")
    fig.tight_layout()
    return save_figure(fig, path)


def budget_columns(tables: Sequence[dict[str, Any]]) -> str:
    """One markdown table from several zoo tables (e.g. a 2-minute and a 10-minute one): a column per
    budget (median over seeds, or what budget the model needs), the textbook loop beside the longest,
    sorted by the longest budget's accuracy, then the shorter ones'."""
    lines_by = {}  # (model, budget) -> summary line
    for table in tables:
        for line in summarise(table):
            lines_by[(line["model"], line["budget_s"])] = line
    budgets = sorted({b for _, b in lines_by})
    models = sorted({m for m, _ in lines_by})

    def acc(model: str, budget: float) -> float:
        line = lines_by.get((model, budget))
        return line["test_acc"] if line and line["test_acc"] is not None else -1.0

    models.sort(key=lambda m: [-acc(m, b) for b in reversed(budgets)])
    head = " | ".join(f"{b / 60:g} min" for b in budgets)
    out = [
        f"| model | family | parameters | MFLOPs | recipe | {head} | textbook loop, {budgets[-1] / 60:g} min |",
        "|---|---|---:|---:|---|" + "---:|" * len(budgets) + "---:|",
    ]
    for m in models:
        cells, first = [], next(lines_by[(m, b)] for b in budgets if (m, b) in lines_by)
        for b in budgets:
            line = lines_by.get((m, b))
            if line is None:
                cells.append("–")
            elif line["test_acc"] is None:
                cells.append("needs " + line["error"].rsplit("raise --time-budget to ", 1)[-1].rstrip("."))
            else:
                seeds = f" (median of {len(line['seeds'])})" if len(line["seeds"]) > 1 else ""
                cells.append(f"{100 * line['test_acc']:.2f}%{seeds}, {line['epochs']:.3g} ep")
        last = lines_by.get((m, budgets[-1]))
        base = "–"
        if last and last["baseline_acc"] is not None:
            below = last["test_acc"] is None or last["test_acc"] < last["baseline_acc"]
            base = f"{100 * last['baseline_acc']:.2f}%, {last['baseline_epochs']:.3g} ep" + (" ▼" if below else "")
        label = _label(first)
        out.append(
            f"| {label} | {first['family']} | {first['parameters']:,} | {first['mflops']:.0f} | {first['recipe']} | "
            + " | ".join(cells)
            + f" | {base} |"
        )
    return "\n".join(out) + "\n"


def budget_plot(tables: Sequence[dict[str, Any]], path: Path) -> Path:
    """Accuracy per model at each budget (dots) and the textbook loop's (rings), the best model on top;
    a model that did not fit a budget has no dot for it."""
    from matplotlib.figure import Figure

    from ..plots import save_figure

    lines = [line for table in tables for line in summarise(table)]
    budgets = sorted({line["budget_s"] for line in lines})
    best = {}
    for line in lines:
        if line["test_acc"] is not None:
            best[line["model"]] = max(best.get(line["model"], -1.0), line["test_acc"])
    models = sorted({line["model"] for line in lines}, key=lambda m: best.get(m, -1.0))
    fig = Figure(figsize=(8, 0.3 * len(models) + 1.5))
    ax = fig.subplots()
    for i, b in enumerate(budgets):
        at = {line["model"]: line for line in lines if line["budget_s"] == b}
        ys = [k for k, m in enumerate(models) if m in at and at[m]["test_acc"] is not None]
        ax.scatter([100 * at[models[k]]["test_acc"] for k in ys], ys, s=28, label=f"{b / 60:g} min", zorder=3)
        base = [k for k, m in enumerate(models) if m in at and at[m]["baseline_acc"] is not None]
        if base:
            ax.scatter([100 * at[models[k]]["baseline_acc"] for k in base], base, s=60, facecolors="none",
                       edgecolors=f"C{i}", label=f"textbook loop, {b / 60:g} min", zorder=2)  # fmt: skip
    ax.set_yticks(range(len(models)), models, fontsize=8)
    ax.set_xlabel("test accuracy (%)")
    ax.axvline(10, color="grey", lw=0.6, ls=":")  # chance
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("CIFAR-10 by name within a time budget, this host (dotted: chance)")
    fig.tight_layout()
    return save_figure(fig, path)
