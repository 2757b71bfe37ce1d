"""``report.html``: one self-contained page per run (images embedded as data URIs, no network)."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from .data import ROWS_PER_BATCH, CifarArrays
from .errors import RunError
from .robustness import HEATMAP_FILE, SEVERITY_FILE, read_result
from .runs import atomic_write_bytes, read_json

# In reading order: what a person looks at first comes first; every key is folded below.
FIGURES = (
    ("curves.png", "Training curves"),
    ("confusion.png", "Confusion matrix"),
    ("mistakes.png", "Most confident mistakes"),
    ("per_class.png", "Per-class accuracy"),
    ("reliability.png", "Calibration"),
)
PERCENT_KEYS = ("_acc", "ece")  # fractions shown as percentages, as everywhere else on the page
PATH_KEYS = ("data_source", "out", "data", "run_dir")  # a machine's path: only its last part is shown


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _value(key: str, v: Any) -> str | None:
    """How a summary or config value reads on the page (None: not shown)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and key.endswith(PERCENT_KEYS):
        return f"{100 * v:.2f}%"
    if isinstance(v, float):
        return f"{v:.4g}"
    if key.rpartition(".")[2] in PATH_KEYS and isinstance(v, str):
        return Path(v).name or v
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def _table(rows: list[tuple[str, Any]]) -> str:
    shown = [(k, _value(k, v)) for k, v in rows]
    body = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(v)}</td></tr>" for k, v in shown if v is not None
    )
    return f"<table>{body}</table>"


def write_report(run_dir: str | Path, *, arrays: CifarArrays | None = None, data=None, offline=False) -> Path:
    """Evaluate the run (if not yet done) and write ``run_dir/report.html``; return its path."""
    from .evaluation import evaluate_run

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


def _headline(summary: dict, ev: dict) -> str:
    """The numbers a person opens the page for: test accuracy, model, time, host."""
    acc = summary.get("test_acc")
    acc = acc if isinstance(acc, (int, float)) and not math.isnan(acc) else ev["test_acc"]
    tta = summary.get("tta", ev.get("tta", "none"))
    views = f" with test-time views <i>{html.escape(str(tta))}</i>" if tta not in (None, "none") else ""
    n = summary.get("test_images")  # fewer than the test set's 10,000 after --test-limit: say so
    subset = f" on {n:,} test images" if isinstance(n, int) and 0 < n < ROWS_PER_BATCH else ""
    params = f"{summary['parameters']:,} parameters, " if isinstance(summary.get("parameters"), int) else ""
    recipe = f", recipe {html.escape(str(summary['recipe']))}" if summary.get("recipe") else ""
    line = (
        f'<p class="headline">Test accuracy <b>{100 * acc:.2f}%</b>{views}{subset}</p>'
        f"<p>{html.escape(str(summary.get('model')))} ({params}{_value('', summary.get('amp')) or 'fp32'}){recipe}"
        f" &middot; trained {summary.get('wall_seconds', 0):.0f} s, best epoch {summary.get('best_epoch')} "
        f"of {summary.get('epochs_run')} (selected on {html.escape(str(summary.get('selected_on')))})"
        f" &middot; {html.escape(str(summary.get('device_name', summary.get('device'))))}"
        f" &middot; status {html.escape(str(summary.get('status', 'completed')))}</p>"
    )
    if abs(ev["test_acc"] - acc) >= 5e-5:
        m = ev.get("test_images")  # `cifarlab evaluate --test-limit` may have scored another count
        scored = f" on {m:,} test images" if isinstance(m, int) and m != (n or ROWS_PER_BATCH) else ""
        line += (
            f'<p class="note">The figures below come from a re-evaluation of model.pt in fp32 '
            f"(test-time views {html.escape(str(ev.get('tta', 'none')))}){scored}: {100 * ev['test_acc']:.2f}%. "
            f"The headline is the training's own evaluation ({html.escape(str(summary.get('amp', 'fp32')))}).</p>"
        )
    return line


def _robustness(run_dir: Path) -> str:
    """The corruption-robustness section, from robustness.json ('cifarlab robustness'); a pointer to the
    command when the run has none."""
    res = read_result(run_dir)
    if res is None:
        return (
            '<section><h2>Corruption robustness</h2><p class="note">Not measured: '
            f"<code>cifarlab robustness {html.escape(run_dir.name)}</code> adds it.</p></section>"
        )
    pct = lambda v: "–" if v is None else f"{100 * v:.2f}%"
    rows = "".join(
        f"<tr><td>{html.escape(str(name))}</td>" + "".join(f"<td>{pct(a)}</td>" for a in accs) + "</tr>"
        for name, accs in res["corruptions"].items()
    )
    pairs = sum(a is not None for accs in res["corruptions"].values() for a in accs)
    shift = res.get("shift") or {}
    shift_line = (
        f"<p>{html.escape(str(shift.get('name')))}: <b>{pct(shift.get('acc'))}</b> on {shift.get('images')} images.</p>"
        if shift
        else ""
    )
    coverage = "all 15 corruptions at 5 severities" if res.get("complete") else f"{pairs} corruption-severity pairs"
    notes = "".join(f'<p class="note">{html.escape(str(n))}.</p>' for n in res.get("notes", []))
    return f"""<section><h2>Corruption robustness</h2>
<p>Mean corruption accuracy <b>{pct(res["mean_corruption_acc"])}</b> over {coverage}
(clean {pct(res["clean_acc"])}, drop {100 * res["drop_from_clean"]:.2f} points), {res["images"]} images per set,
{html.escape(str(res["source"]))}, test-time views <i>{html.escape(str(res["tta"]))}</i>.</p>{shift_line}
{_img(run_dir / HEATMAP_FILE, "accuracy per corruption and severity") if (run_dir / HEATMAP_FILE).exists() else ""}
{_img(run_dir / SEVERITY_FILE, "accuracy by severity") if (run_dir / SEVERITY_FILE).exists() else ""}
<table><tr><th>corruption</th><th>1</th><th>2</th><th>3</th><th>4</th><th>5</th></tr>{rows}</table>{notes}
</section>"""


def _robustness_or_note(run_dir: Path) -> str:
    try:
        return _robustness(run_dir)
    except (AttributeError, KeyError, TypeError, ValueError):  # a hand-edited or damaged robustness.json
        return (
            '<section><h2>Corruption robustness</h2><p class="note">robustness.json has unexpected content: '
            f"run <code>cifarlab robustness {html.escape(run_dir.name)}</code> again.</p></section>"
        )


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
    ece = f"<p>Expected calibration error {100 * ev['ece']:.2f}%.</p>" if "ece" in ev else ""
    title = f"cifarlab run {run_dir.name}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
.headline {{ font-size: 1.6em; margin: 0.2em 0; }}
.note {{ color: #555; font-size: 0.9em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 14px; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
details {{ margin: 1em 0; }}
summary {{ cursor: pointer; font-weight: 600; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{_headline(summary, ev)}
{figures}
<section><h2>Per-class accuracy</h2><table><tr><th>class</th><th>accuracy</th></tr>{per_class}</table>{ece}</section>
{_robustness_or_note(run_dir)}
<details><summary>Everything in summary.json</summary>{_table(sorted(summary.items()))}</details>
<details><summary>The run's config (config.json)</summary>{_table(flat_config)}</details>
</body></html>
"""
