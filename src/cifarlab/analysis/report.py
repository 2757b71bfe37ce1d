"""``report.html``: one self-contained page per run (images embedded as data URIs, no network)."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..core.errors import RunError, UnsafeFileError, warn
from ..core.fileio import atomic_write_bytes, read_bytes
from ..data.cifar import ROWS_PER_BATCH, CifarArrays
from ..runs.store import read_json
from .robustness import HEATMAP_FILE, SEVERITY_FILE, read_result

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


def _e(v: Any) -> str:
    """Any value as HTML text: run files are hand-editable, so a number's place may hold markup."""
    return html.escape(str(v))


def _img(path: Path, alt: str) -> str:
    """``path`` embedded as a data URI; "" when it is missing, or (with a one-line warning) when it is
    a symlink, FIFO or anything else than a regular file: the page never carries what a link points to."""
    try:
        data = base64.b64encode(read_bytes(path)).decode()
    except FileNotFoundError:
        return ""
    except UnsafeFileError as e:  # a symlink, FIFO, device or folder: its message names the file
        warn(f"{e}; report.html leaves that figure out")
        return ""
    except OSError as e:
        warn(f"{path} cannot be read ({e.strerror or type(e).__name__}); report.html leaves that figure out")
        return ""
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


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
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in shown if v is not None)
    return f"<table>{body}</table>"


def write_report(run_dir: str | Path, *, arrays: CifarArrays | None = None, data=None, offline=False) -> Path:
    """Evaluate the run (if not yet done) and write ``run_dir/report.html``; return its path."""
    from .evaluation import evaluate_run

    run_dir = Path(run_dir)
    if not (run_dir / "model.pt").exists():
        raise RunError(f"{run_dir} has no model.pt (the run did not finish); train it or pick another run")
    with _signals_not_swallowed() as check_signals:
        if not (run_dir / "evaluation.json").exists() or not (run_dir / "mistakes.png").exists():
            evaluate_run(run_dir, arrays=arrays, data=data, offline=offline)
        check_signals()
        summary, config = read_json(run_dir / "summary.json"), read_json(run_dir / "config.json")
        ev = read_json(run_dir / "evaluation.json")
        try:
            page = _page(run_dir, summary, config, ev)
        except (AttributeError, KeyError, TypeError, ValueError) as e:  # a hand-edited or damaged file
            raise RunError(
                f"{run_dir}'s summary.json, config.json or evaluation.json has unexpected content "
                f"({type(e).__name__}: {str(e)[:80]}); delete evaluation.json to recompute it, or train the run again"
            ) from None
        check_signals()  # before report.html: an interrupted report writes no page
        return atomic_write_bytes(run_dir / "report.html", page.encode())


@contextlib.contextmanager
def _signals_not_swallowed() -> Iterator[Callable[[], None]]:
    """Keep Ctrl-C (and the CLI's SIGTERM) from being lost while figures are drawn.

    The handlers in place still raise at once (KeyboardInterrupt, Terminated). But a raise that lands
    inside a finalizer is printed and dropped ("Exception ignored in ...": matplotlib runs many), and
    the work would go on to exit 0. So each such signal is also remembered, and raised again by the
    check this yields (call it between steps) and on leaving the block. Handlers run in the main
    thread only; elsewhere, and for SIG_DFL / SIG_IGN, nothing changes.
    """
    pending: list[tuple[Callable, int]] = []

    def check() -> None:
        if pending:
            handler, signum = pending[0]
            pending.clear()
            handler(signum, None)  # raises again what the handler raised the first time

    def remembering(handler: Callable) -> Callable:
        def on_signal(signum, frame) -> None:
            pending.append((handler, signum))
            handler(signum, frame)
            pending.remove((handler, signum))  # it returned without raising: nothing to raise later

        return on_signal

    installed = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if callable(handler):
                installed[signum] = handler
                signal.signal(signum, remembering(handler))
    try:
        yield check
        check()
    finally:
        for signum, handler in installed.items():
            signal.signal(signum, handler)


def _headline(summary: dict, ev: dict) -> str:
    """The numbers a person opens the page for: test accuracy, model, time, host."""
    acc = summary.get("test_acc")
    acc = acc if isinstance(acc, (int, float)) and not math.isnan(acc) else ev["test_acc"]
    tta = summary.get("tta", ev.get("tta", "none"))
    views = f" with test-time views <i>{_e(tta)}</i>" if tta not in (None, "none") else ""
    n = summary.get("test_images")  # fewer than the test set's 10,000 after --test-limit: say so
    subset = f" on {n:,} test images" if isinstance(n, int) and 0 < n < ROWS_PER_BATCH else ""
    params = f"{summary['parameters']:,} parameters, " if isinstance(summary.get("parameters"), int) else ""
    recipe = f", recipe {_e(summary['recipe'])}" if summary.get("recipe") else ""
    amp = _value("", summary.get("amp")) or "fp32"
    seconds = f"{summary.get('wall_seconds', 0):.0f}"
    device = summary.get("device_name", summary.get("device"))
    line = (
        f'<p class="headline">Test accuracy <b>{_e(f"{100 * acc:.2f}")}%</b>{views}{_e(subset)}</p>'
        f"<p>{_e(summary.get('model'))} ({_e(params)}{_e(amp)}){recipe}"
        f" &middot; trained {_e(seconds)} s, best epoch {_e(summary.get('best_epoch'))} "
        f"of {_e(summary.get('epochs_run'))} (selected on {_e(summary.get('selected_on'))})"
        f" &middot; {_e(device)} &middot; status {_e(summary.get('status', 'completed'))}</p>"
    )
    if abs(ev["test_acc"] - acc) >= 5e-5:
        m = ev.get("test_images")  # `cifarlab evaluate --test-limit` may have scored another count
        scored = f" on {m:,} test images" if isinstance(m, int) and m != (n or ROWS_PER_BATCH) else ""
        rescored = f"{100 * ev['test_acc']:.2f}"
        line += (
            f'<p class="note">The figures below come from a re-evaluation of model.pt in fp32 '
            f"(test-time views {_e(ev.get('tta', 'none'))}){_e(scored)}: {_e(rescored)}%. "
            f"The headline is the training's own evaluation ({_e(summary.get('amp', 'fp32'))}).</p>"
        )
    return line


def _robustness(run_dir: Path) -> str:
    """The corruption-robustness section, from robustness.json ('cifarlab robustness'); a pointer to the
    command when the run has none."""
    res = read_result(run_dir)
    if res is None:
        return (
            '<section><h2>Corruption robustness</h2><p class="note">Not measured: '
            f"<code>cifarlab robustness {_e(run_dir.name)}</code> adds it.</p></section>"
        )
    pct = lambda v: "–" if v is None else _e(f"{100 * v:.2f}%")
    rows = "".join(
        f"<tr><td>{_e(name)}</td>" + "".join(f"<td>{pct(a)}</td>" for a in accs) + "</tr>"
        for name, accs in res["corruptions"].items()
    )
    pairs = sum(a is not None for accs in res["corruptions"].values() for a in accs)
    shift = res.get("shift") or {}
    shift_line = (
        f"<p>{_e(shift.get('name'))}: <b>{pct(shift.get('acc'))}</b> on {_e(shift.get('images'))} images.</p>"
        if shift
        else ""
    )
    coverage = "all 15 corruptions at 5 severities" if res.get("complete") else f"{pairs} corruption-severity pairs"
    notes = "".join(f'<p class="note">{_e(n)}.</p>' for n in res.get("notes", []))
    drop = f"{100 * res['drop_from_clean']:.2f}"
    return f"""<section><h2>Corruption robustness</h2>
<p>Mean corruption accuracy <b>{pct(res["mean_corruption_acc"])}</b> over {_e(coverage)}
(clean {pct(res["clean_acc"])}, drop {_e(drop)} points), {_e(res["images"])} images per set,
{_e(res["source"])}, test-time views <i>{_e(res["tta"])}</i>.</p>{shift_line}
{_img(run_dir / HEATMAP_FILE, "accuracy per corruption and severity")}
{_img(run_dir / SEVERITY_FILE, "accuracy by severity")}
<table><tr><th>corruption</th><th>1</th><th>2</th><th>3</th><th>4</th><th>5</th></tr>{rows}</table>{notes}
</section>"""


def _robustness_or_note(run_dir: Path) -> str:
    try:
        return _robustness(run_dir)
    except (AttributeError, KeyError, TypeError, ValueError):  # a hand-edited or damaged robustness.json
        return (
            '<section><h2>Corruption robustness</h2><p class="note">robustness.json has unexpected content: '
            f"run <code>cifarlab robustness {_e(run_dir.name)}</code> again.</p></section>"
        )


def _page(run_dir: Path, summary: dict, config: dict, ev: dict) -> str:
    per_class = "".join(
        f"<tr><td>{_e(c)}</td><td>{_e(f'{100 * a:.2f}')}%</td></tr>" for c, a in ev["per_class_acc"].items()
    )
    flat_config = [(f"{k}.{kk}", vv) for k, v in config.items() if isinstance(v, dict) for kk, vv in v.items()]
    flat_config = [(k, v) for k, v in config.items() if not isinstance(v, dict)] + flat_config
    images = [(title, _img(run_dir / name, title)) for name, title in FIGURES]
    figures = "".join(f"<section><h2>{_e(title)}</h2>{img}</section>" for title, img in images if img)
    ece = f"<p>Expected calibration error {_e(format(100 * ev['ece'], '.2f'))}%.</p>" if "ece" in ev else ""
    title = f"cifarlab run {run_dir.name}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
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
<h1>{_e(title)}</h1>
{_headline(summary, ev)}
{figures}
<section><h2>Per-class accuracy</h2><table><tr><th>class</th><th>accuracy</th></tr>{per_class}</table>{ece}</section>
{_robustness_or_note(run_dir)}
<details><summary>Everything in summary.json</summary>{_table(sorted(summary.items()))}</details>
<details><summary>The run's config (config.json)</summary>{_table(flat_config)}</details>
</body></html>
"""
