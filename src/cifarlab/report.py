"""``report.html``: one self-contained page per run (images embedded as data URIs, no network)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .data import CifarArrays
from .errors import RunError
from .runs import atomic_write_bytes, read_json

FIGURES = (
    ("curves.png", "Training curves"),
    ("per_class.png", "Per-class accuracy"),
    ("confusion.png", "Confusion matrix"),
    ("mistakes.png", "Most confident mistakes"),
    ("reliability.png", "Calibration"),
)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def write_report(run_dir: str | Path, *, arrays: CifarArrays | None = None, data=None, offline=False) -> Path:
    """Evaluate the run (if not yet done) and write ``run_dir/report.html``; return its path."""
    from .evaluate import evaluate_run

    run_dir = Path(run_dir)
    if not (run_dir / "model.pt").exists():
        raise RunError(f"{run_dir} has no model.pt (the run did not finish); train it or pick another run")
    if not (run_dir / "evaluation.json").exists() or not (run_dir / "mistakes.png").exists():
        evaluate_run(run_dir, arrays=arrays, data=data, offline=offline)
    summary, config = read_json(run_dir / "summary.json"), read_json(run_dir / "config.json")
    ev = read_json(run_dir / "evaluation.json")
    try:
        page = _page(run_dir, summary, config, ev)
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # a hand-edited or damaged file
        raise RunError(
            f"{run_dir}'s summary.json, config.json or evaluation.json has unexpected content ({type(e).__name__}: "
            f"{str(e)[:80]}); delete evaluation.json to recompute it, or train the run again"
        ) from None
    return atomic_write_bytes(run_dir / "report.html", page.encode())


def _page(run_dir: Path, summary: dict, config: dict, ev: dict) -> str:
    per_class = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{100 * a:.2f}%</td></tr>" for c, a in ev["per_class_acc"].items()
    )
    flat_config = [(f"{k}.{kk}", vv) for k, v in config.items() if isinstance(v, dict) for kk, vv in v.items()]
    flat_config = [(k, v) for k, v in config.items() if not isinstance(v, dict)] + flat_config
    figures = "".join(
        f"<section><h2>{html.escape(title)}</h2>{_img(run_dir / name, title)}</section>"
        for name, title in FIGURES
        if (run_dir / name).exists()
    )
    title = f"cifarlab run {run_dir.name}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 14px; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
.cols {{ display: flex; gap: 2em; flex-wrap: wrap; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Test accuracy <b>{100 * ev["test_acc"]:.2f}%</b> ({html.escape(str(summary.get("model")))},
best epoch {summary.get("best_epoch")} of {summary.get("epochs_run")}, {summary.get("wall_seconds", 0):.0f}s on
{html.escape(str(summary.get("device_name", summary.get("device"))))}). ECE {100 * ev.get("ece", 0):.2f}%.</p>
<div class="cols">
<section><h2>Summary</h2>{_table(sorted(summary.items()))}</section>
<section><h2>Per-class accuracy</h2><table><tr><th>class</th><th>accuracy</th></tr>{per_class}</table></section>
<section><h2>Config</h2>{_table(flat_config)}</section>
</div>
{figures}
</body></html>
"""
    return page
