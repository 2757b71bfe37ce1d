"""Compare runs: overlaid validation/test curves and a table (printed, CSV and Markdown)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import RunError
from .runs import atomic_write_bytes, check_output, read_json, read_metrics

COLUMNS = ("name", "model", "parameters", "epochs", "best_val_acc", "test_acc_at_best", "wall_seconds")


def run_row(run_dir: Path) -> dict[str, Any]:
    if not (run_dir / "metrics.csv").is_file():
        raise RunError(f"{run_dir} is not a run folder (no metrics.csv); pass folders that 'cifarlab train' wrote")
    rows = read_metrics(run_dir / "metrics.csv")
    summary = read_json(run_dir / "summary.json", required=False)
    config = read_json(run_dir / "config.json", required=False)
    finite = [r["val_acc"] for r in rows if not math.isnan(r["val_acc"])]
    return {
        "name": run_dir.name,
        "model": summary.get("model") or config.get("model", "?"),
        "parameters": summary.get("parameters"),
        "epochs": len(rows),
        "best_val_acc": max(finite) if finite else None,
        "test_acc_at_best": summary.get("test_acc"),
        "wall_seconds": summary.get("wall_seconds"),
        "metrics": rows,
    }


def _fmt(key: str, v: Any) -> str:
    if v is None:
        return "–"
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return str(v)  # a hand-edited summary: shown as it is
    if "_acc" in key:
        return f"{100 * v:.2f}%"
    if key == "wall_seconds":
        return f"{v:.0f}s"
    if key == "parameters":
        return f"{v:,}"
    return str(v)


def compare(
    run_dirs: Sequence[str | Path], out_png: str | Path, force: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """Write ``out_png`` (curves), ``.csv`` and ``.md`` beside it; return the rows and the Markdown table.

    Existing outputs are replaced only with ``force``, and a run's own files never.
    """
    from matplotlib.figure import Figure

    from .plots import save_figure

    out_png = Path(out_png)
    for path in (out_png, out_png.with_suffix(".csv"), out_png.with_suffix(".md")):
        check_output(path, force)
    runs = [run_row(Path(d)) for d in run_dirs]
    fig = Figure(figsize=(12, 8))
    axes = fig.subplots(2, 2)
    for run in runs:
        for (i, split), (j, metric) in [
            ((0, "val"), (0, "acc")),
            ((0, "val"), (1, "loss")),
            ((1, "test"), (0, "acc")),
            ((1, "test"), (1, "loss")),
        ]:
            pts = [
                (r["epoch"], r[f"{split}_{metric}"]) for r in run["metrics"] if not math.isnan(r[f"{split}_{metric}"])
            ]
            if pts:
                axes[i][j].plot(*zip(*pts), marker="o" if len(pts) < 30 else None, ms=3, label=run["name"])
            axes[i][j].set_title(f"{split} {'accuracy' if metric == 'acc' else 'loss'}")
            axes[i][j].set_xlabel("epoch")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out_png)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for run in runs:
        writer.writerow(["" if run[c] is None else run[c] for c in COLUMNS])
    atomic_write_bytes(out_png.with_suffix(".csv"), buf.getvalue().encode())
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join(_fmt(c, run[c]) for c in COLUMNS) + " |" for run in runs]
    table = "\n".join(md) + "\n"
    atomic_write_bytes(out_png.with_suffix(".md"), table.encode())
    return runs, table
