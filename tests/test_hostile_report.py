"""Hostile input to what cifarlab writes for people to read: report.html, compare's .csv and .md, and
predict's lines (hostile review, defects 2, 3, 9, 11 and 17).

Each test plants what an attacker could put in a run folder or a file name (markup in a value, a
symlink to a private key, a FIFO, a spreadsheet formula, terminal escapes) and asserts that it is
shown as text, left out with a one-line warning, or refused per file, never executed or followed.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import _SHARED, CLI, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401
from test_hostile import _copy_run

SCRIPT = "<script>alert(1)</script>"


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _robustness_json(run: Path, **changes) -> None:
    """A small, valid robustness.json (what `cifarlab robustness` writes), with ``changes`` on top."""
    result = {
        "format": 1,
        "corruptions": {"gaussian_noise": [0.5, 0.4, 0.3, 0.2, 0.1]},
        "clean_acc": 0.6,
        "mean_corruption_acc": 0.3,
        "drop_from_clean": 0.3,
        "images": 100,
        "source": "generated",
        "tta": "none",
        "complete": False,
        "shift": {"name": "CIFAR-10.1", "acc": 0.5, "images": 2000},
        "notes": [],
    }
    (run / "robustness.json").write_text(json.dumps({**result, **changes}))


# --- 2. markup in run files is shown as text in report.html ------------------------------------------


def test_report_escapes_every_value_from_summary_and_robustness(evaluated_run, tmp_path):
    run = _copy_run(evaluated_run, tmp_path / "run")
    _edit_json(run / "summary.json", amp=SCRIPT, best_epoch=SCRIPT, epochs_run=SCRIPT)
    _robustness_json(run, images=SCRIPT, shift={"name": "CIFAR-10.1", "acc": 0.5, "images": SCRIPT})
    cli_in_process("report", run, check=True)
    page = (run / "report.html").read_text()
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5  # amp, both epochs, both image counts
    assert "Corruption robustness</h2>\n<p>Mean corruption accuracy" in page  # the section itself was drawn


# --- 3. figures that are symlinks or FIFOs are left out, with a warning -------------------------------


def test_report_embeds_no_symlinked_figure_and_does_not_hang_on_a_fifo(evaluated_run, tmp_path):
    run = _copy_run(evaluated_run, tmp_path / "run")
    secret = tmp_path / "id_rsa"
    secret.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY----- not for the page")
    (run / "curves.png").unlink()
    (run / "curves.png").symlink_to(secret)
    (run / "confusion.png").unlink()
    os.mkfifo(run / "confusion.png")
    _robustness_json(run)
    (run / "robustness_heatmap.png").symlink_to(secret)
    proc = cli("report", run, check=False, timeout=60)  # a subprocess: a FIFO that blocks fails by timeout
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    page = (run / "report.html").read_text()
    assert base64.b64encode(secret.read_bytes()).decode()[:40] not in page
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("cifarlab: warning:")]
    for name in ("curves.png", "confusion.png", "robustness_heatmap.png"):
        assert sum(str(run / name) in line for line in warnings) == 1, proc.stderr
    assert "Most confident mistakes</h2><img" in page  # the regular figures are still there


# --- 9. Ctrl-C (or kill) while the report is drawn ends the process non-zero -------------------------

# Stands in for matplotlib: a finalizer that runs while the signal arrives, and so swallows the
# KeyboardInterrupt raised inside it ("Exception ignored in ...").
_DRIVER = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background test run inherits SIGINT ignored
from cifarlab.analysis import report
from cifarlab.cli.app import main

class Drawing:
    def __del__(self):
        print("drawing", flush=True)
        time.sleep(20)

draw_page = report._page

def slow_page(*args):
    Drawing()  # freed at once: its finalizer runs here
    return draw_page(*args)

report._page = slow_page
sys.exit(main(["report", sys.argv[1]]))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_report_is_drawn_is_not_swallowed(evaluated_run, tmp_path, signum):
    run = _copy_run(evaluated_run, tmp_path / "run")
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **_SHARED},
    )
    assert proc.stdout.readline() == "drawing\n"
    time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1] in ("cifarlab: interrupted", "cifarlab: terminated"), err
    assert not (run / "report.html").exists()  # stopped before the page was written
    assert not list(run.glob(".*.tmp"))


# --- 11. predict: names are printed with control characters escaped; a FIFO is one per-file error ----


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 30, 30)).save(path, format="PNG")
    return path


def test_predict_escapes_control_characters_in_names(tiny_run, tmp_path):
    forged = _png(tmp_path / "cat.png\nfake.png: airplane 100.0%\x1b[2J\r.png")
    missing = tmp_path / "gone\x1b]0;title\x07.png"
    plain = _png(tmp_path / "plain name é.png")
    proc = cli_in_process("predict", tiny_run, forged, missing, plain)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and not any(c in proc.stdout + proc.stderr for c in "\x1b\x07\r")
    assert lines[0].startswith(str(tmp_path / "cat.png\\nfake.png: airplane 100.0%\\x1b[2J\\r.png") + ": ")
    assert lines[1].startswith(f"{plain}: ")  # a normal name is printed as it is
    assert_one_line_error(proc, str(tmp_path / "gone\\x1b]0;title\\x07.png"), "no such file")
    as_json = json.loads(cli_in_process("predict", tiny_run, forged, "--json").stdout)
    assert as_json[0]["path"] == str(forged)  # JSON carries the real name, escaped by JSON itself


def test_predict_answers_the_good_image_beside_a_fifo(tiny_run, tmp_path):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    good = _png(tmp_path / "good.png")
    proc = cli("predict", tiny_run, fifo, good, check=False, timeout=60)  # a subprocess: a hang fails by timeout
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{good}: ") and proc.stdout.count("\n") == 1
    assert_one_line_error(proc, str(fifo), "FIFO")


# --- 17. compare: no formulas in the .csv, no markup or broken rows in the .md -------------------------


def test_compare_neutralises_formulas_and_markup(tiny_run, tmp_path):
    run = _copy_run(tiny_run, tmp_path / '=HYPERLINK("evil.example","click")')
    _edit_json(run / "summary.json", model="@SUM(1+1)<img src=x onerror=alert(1)>|x\n|", wall_seconds=-3.5)
    other = _copy_run(tiny_run, tmp_path / "plain")
    _edit_json(other / "summary.json", model="+cmd", parameters="-2+3", test_images="\tTAB")
    proc = cli_in_process("compare", run, other, "--out", tmp_path / "c.png", check=True)
    rows = list(csv.reader(io.StringIO((tmp_path / "c.csv").read_text())))
    header, evil, plain = rows[0], dict(zip(rows[0], rows[1])), dict(zip(rows[0], rows[2]))
    assert evil["name"] == "'" + run.name and evil["model"].startswith("'@SUM")
    assert evil["wall_seconds"] == "-3.5"  # a real negative number stays a number
    assert plain["name"] == "plain" and plain["model"] == "'+cmd"
    assert plain["parameters"] == "'-2+3" and plain["test_images"] == "'\tTAB"
    assert all(not cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows[1:] for cell in row)
    assert float(plain["best_val_acc"]) > 0 and header[0] == "name"
    md = (tmp_path / "c.md").read_text()
    assert md == proc.stdout.split("wrote ")[0]  # the printed table is the file
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    lines = md.splitlines()
    assert len(lines) == 4  # header, rule, one line per run: the newline did not break the row
    cells = [c for c in lines[2].replace("\\|", "").split("|")]
    assert len(cells) == len(lines[0].split("|"))  # the pipes in the model name did not add columns
