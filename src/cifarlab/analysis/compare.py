"""Compare runs: overlaid validation/test curves and a table (printed, CSV and Markdown, HTML in Jupyter)."""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import RunError, printable
from ..core.fileio import atomic_write_bytes
from ..runs.folder import check_output
from ..runs.store import LoadedRun, read_json, read_metrics
from .robustness import read_result

COLUMNS = (
    "name",
    "model",
    "parameters",
    "epochs",
    "best_val_acc",
    "test_acc_at_best",
    "test_images",  # what test_acc_at_best is on: fewer than 10,000 after --test-limit
    "mean_corruption_acc",  # from robustness.json ('cifarlab robustness'), when the run has one
    "wall_seconds",
)


def run_row(run) -> dict[str, Any]:
    """One run's row: a run folder, or a :class:`~cifarlab.runs.store.LoadedRun` (its folder is read)."""
    run_dir = Path(run.path if isinstance(run, LoadedRun) else run)
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
        "test_images": summary.get("test_images"),
        "mean_corruption_acc": _complete_mca(run_dir),
        "wall_seconds": summary.get("wall_seconds"),
        "metrics": rows,
    }


def _complete_mca(run_dir: Path) -> float | None:
    """The mean corruption accuracy over all 75 pairs; None when the run was measured on fewer (a
    subset's mean is not comparable with another run's)."""
    res = read_result(run_dir) or {}
    return res.get("mean_corruption_acc") if res.get("complete") is True else None


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(v: Any) -> Any:
    """A CSV cell no spreadsheet runs: text that starts like a formula gets a leading quote (the OWASP
    rule), while real numbers, negative ones included, stay numbers."""
    if v is None:
        return ""
    if isinstance(v, (int, float)):
        return v
    text = str(v)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _md_cell(text: str) -> str:
    """A Markdown table cell that stays one cell of one row and carries no HTML or terminal escapes."""
    return html.escape(printable(text), quote=False).replace("|", "\\|")


def _fmt(key: str, v: Any) -> str:
    if v is None:
        return "–"
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return str(v)  # a hand-edited summary: shown as it is
    if "_acc" in key:
        return f"{100 * v:.2f}%"
    if key == "wall_seconds":
        return f"{v:.0f}s"
    if key in ("parameters", "test_images"):
        return f"{v:,}"
    return str(v)


class Comparison:
    """Runs side by side: ``rows`` (one dict per run, with its ``metrics``), the Markdown
    :meth:`table`, the overlaid curves (:meth:`figure`), :meth:`to_frame` for pandas, and
    :meth:`save`. In Jupyter, the last expression of a cell shows the table and the curves."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Comparison({', '.join(r['name'] for r in self.rows)})"

    def table(self) -> str:
        md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        md += ["| " + " | ".join(_md_cell(_fmt(c, run[c])) for c in COLUMNS) + " |" for run in self.rows]
        return "\n".join(md) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for run in self.rows:
            writer.writerow([_csv_cell(run[c]) for c in COLUMNS])
        return buf.getvalue()

    def figure(self):
        """Validation and test accuracy and loss per epoch, one line per run."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 8))
        axes = fig.subplots(2, 2)
        for run in self.rows:
            for (i, split), (j, metric) in [
                ((0, "val"), (0, "acc")),
                ((0, "val"), (1, "loss")),
                ((1, "test"), (0, "acc")),
                ((1, "test"), (1, "loss")),
            ]:
                key = f"{split}_{metric}"
                pts = [(r["epoch"], r[key]) for r in run["metrics"] if not math.isnan(r[key])]
                if pts:
                    axes[i][j].plot(*zip(*pts), marker="o" if len(pts) < 30 else None, ms=3, label=run["name"])
                axes[i][j].set_title(f"{split} {'accuracy' if metric == 'acc' else 'loss'}")
                axes[i][j].set_xlabel("epoch")
        for ax in axes.flat:
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    def to_frame(self):
        """The table as a pandas DataFrame indexed by run name (raw numbers: accuracies as fractions)."""
        from ..core.jupyter import require_pandas

        pd = require_pandas("Comparison.to_frame()")
        return pd.DataFrame([{c: run[c] for c in COLUMNS} for run in self.rows], columns=COLUMNS).set_index("name")

    def _repr_html_(self) -> str:
        from ..core.jupyter import figure_html, html_table

        caption = f"{len(self.rows)} run{'' if len(self.rows) == 1 else 's'} compared"
        return html_table(COLUMNS, self.rows, _fmt, caption=caption) + figure_html(self.figure(), dpi=60)

    def save(self, out_png: str | Path, force: bool = False) -> Path:
        """Write ``out_png`` (the curves), ``.csv`` and ``.md`` beside it; return ``out_png``.

        Existing outputs are replaced only with ``force``, and a run's own files never."""
        from ..plots import save_figure

        out_png = Path(out_png)
        for path in (out_png, out_png.with_suffix(".csv"), out_png.with_suffix(".md")):
            check_output(path, force)
        save_figure(self.figure(), out_png)
        atomic_write_bytes(out_png.with_suffix(".csv"), self.csv().encode())
        atomic_write_bytes(out_png.with_suffix(".md"), self.table().encode())
        return out_png


def comparison(runs: Sequence[str | Path | LoadedRun]) -> Comparison:
    """Compare runs (folders, or the runs ``cifarlab.train`` / ``load_run`` / ``save_run`` return)."""
    if not runs:
        raise RunError("nothing to compare: pass one or more run folders")
    return Comparison([run_row(r) for r in runs])


def compare(
    run_dirs: Sequence[str | Path], out_png: str | Path, force: bool = False
) -> tuple[list[dict[str, Any]], str]:
    """Write ``out_png`` (curves), ``.csv`` and ``.md`` beside it; return the rows and the Markdown table.

    Existing outputs are replaced only with ``force``, and a run's own files never (checked before
    any run is read).
    """
    out_png = Path(out_png)
    for path in (out_png, out_png.with_suffix(".csv"), out_png.with_suffix(".md")):
        check_output(path, force)
    result = comparison(run_dirs)
    result.save(out_png, force=force)
    return result.rows, result.table()
