"""The textbook loop that the zoo's recipes are measured against (cifarlab.tools.baseline): it imports none of
the lab's training engine, its schedule is torch's OneCycleLR, its batched crops are per-image crops,
and it learns; ``bench --zoo --baseline`` runs it beside the lab and marks a row that falls below it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from test_cli import cli

import cifarlab.tools.baseline as baseline

# The lab's training engine and everything that builds on it: the baseline may use none of them.
ENGINE = (
    "cifarlab.training",
    "cifarlab.experiment",
    "cifarlab.runs",
    "cifarlab.config.recipes",
    "cifarlab.data.augment",
    "cifarlab.data.augmix",
)


def _lab_imports(path: Path, package: str = "cifarlab.tools") -> set[str]:
    """The cifarlab modules a source file in ``package`` imports, as absolute dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                if node.module:
                    names.add(".".join(base + [node.module]))
                else:
                    names |= {".".join(base + [a.name]) for a in node.names}
            elif (node.module or "").startswith("cifarlab"):
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("cifarlab")}
    return names


def _in_engine(module: str) -> bool:
    return any(module == e or module.startswith(e + ".") for e in ENGINE)


def test_the_baseline_imports_nothing_of_the_training_engine():
    imports = _lab_imports(Path(baseline.__file__))
    assert imports == {"cifarlab.core.fileio", "cifarlab.data.cifar", "cifarlab.models.registry"}
    # and nothing pulls the engine in behind its back (cifarlab/__init__ loads it lazily)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, cifarlab.tools.baseline; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [m for m in loaded if _in_engine(m)]


def test_the_import_check_would_catch_an_engine_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..training.trainer import T\nfrom cifarlab.data.augment import X\nimport cifarlab.runs\n")
    found = _lab_imports(bad)
    assert found == {"cifarlab.training.trainer", "cifarlab.data.augment", "cifarlab.runs"}
    assert all(_in_engine(m) for m in found)


def test_one_cycle_is_torchs_one_cycle_lr():
    steps = 2000
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=steps, pct_start=0.3)
    for i in range(steps):
        ours = baseline.one_cycle(i / steps)
        assert ours == pytest.approx(opt.param_groups[0]["lr"], abs=3e-3), i
        opt.step()
        sched.step()
    assert baseline.one_cycle(0.0) == pytest.approx(1 / 25) and baseline.one_cycle(0.3) == pytest.approx(1.0)
    assert baseline.one_cycle(1.0) == pytest.approx(0.0, abs=1e-12)


def test_batched_crop_flip_equals_cropping_each_image():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    out = baseline.crop_flip(x, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # the same draws, in the same order
    dy, dx = torch.randint(0, 9, (2, 16, 1), generator=g)
    flip = torch.rand(16, generator=g) < 0.5
    padded = torch.zeros(16, 3, 40, 40, dtype=torch.uint8)
    padded[:, :, 4:36, 4:36] = x
    for i in range(16):
        ref = padded[i, :, dy[i, 0] : dy[i, 0] + 32, dx[i, 0] : dx[i, 0] + 32]
        assert torch.equal(out[i], ref.flip(2) if flip[i] else ref), i
    assert 0 < int(flip.sum()) < 16  # both kinds were checked


@pytest.fixture(scope="module")
def fake_arrays(fake_folder):
    from cifarlab.data.cifar import load_cifar10

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_cifar10(fake_folder, progress=False)


def test_the_baseline_learns_on_a_tiny_subset(fake_arrays):
    torch.set_num_threads(1)
    d = fake_arrays
    # cnn2 (conv, BatchNorm, dropout): ~100 steps in 10 s on one idle thread, ~40 under a loaded CI
    result = baseline.train("cnn2", 10.0, d.train_x[:4000], d.train_y[:4000], d.test_x[:1000], d.test_y[:1000])
    assert result["test_acc"] > 0.2, result  # chance is 0.1
    # 4000 images: 32 batches an epoch, the last of 32 images; epochs count the images seen
    whole, rest = divmod(result["steps"], 32)
    assert result["steps"] > 10 and result["epochs"] == pytest.approx((whole * 4000 + rest * 128) / 4000, abs=1e-4)
    assert result["used_s"] <= 1.5 * 10.0 + 2.0, result  # its evaluation is estimated from 500 images


def test_zoo_bench_runs_the_baseline_beside_the_lab(fake_folder, tmp_path):
    out = cli(
        "bench", "--zoo", "--baseline", "--models", "softmax", "--time-budget", "15s", "--data", fake_folder,
        "--out", tmp_path,
    ).stdout  # fmt: skip
    table = json.loads((tmp_path / "zoo.json").read_text())
    (row,) = table["rows"].values()
    assert row["model"] == "softmax" and row["host"]["threads"] == 1
    assert row["baseline"]["model"] == "softmax" and row["baseline"]["threads"] == 1, row["baseline"]
    assert 0 <= row["baseline"]["test_acc"] <= 1 and row["baseline"]["budget_s"] == 15
    assert "textbook loop" in out and (tmp_path / "zoo.png").stat().st_size > 0


def _row(model, seed, acc, base):
    return {
        "model": model, "family": "f", "parameters": 1, "mflops": 1.0, "recipe": "r", "published": None,
        "budget_s": 600.0, "seed": seed, "test_acc": acc, "epochs": 2.0, "train_img_s": 100.0, "used_s": 590.0,
        "host": {"cpu": "c", "bf16": False, "threads": 1}, "baseline": {"test_acc": base, "epochs": 2.1},
    }  # fmt: skip


def test_the_table_takes_medians_over_seeds_and_marks_rows_below_the_baseline():
    from cifarlab.tools.zoobench import markdown

    rows = [_row("a", s, acc, base) for s, acc, base in [(0, 0.80, 0.70), (1, 0.90, 0.95), (2, 0.85, 0.75)]]
    rows += [_row("b", 0, 0.60, 0.61)]
    text = markdown({"rows": {f"{r['model']}{r['seed']}": r for r in rows}})
    a, b = (ln for ln in text.splitlines() if ln.startswith(("| a ", "| b ")))
    assert "**85.00%** (median of 3)" in a and "75.00% (2.1 ep)" in a and "below" not in a
    assert "**60.00%**" in b and "61.00% (2.1 ep) **▼ lab below**" in b
    assert text.index("| a ") < text.index("| b ")  # sorted by accuracy


def test_budget_columns_put_each_budget_beside_the_others(tmp_path):
    from cifarlab.tools.zoobench import budget_columns, budget_plot

    short = {**_row("a", 0, 0.5, 0.4), "budget_s": 120.0}
    short.pop("baseline")
    refused = {
        **_row("b", 0, None, 0.3),
        "error": "--time-budget 10.0 min is too short here: ...; raise --time-budget to 11m",
    }
    refused.pop("test_acc")
    text = budget_columns([{"rows": {"a2": short}}, {"rows": {"a10": _row("a", 0, 0.8, 0.7), "b10": refused}}])
    head, _, a, b = text.splitlines()
    assert head.endswith("| 2 min | 10 min | textbook loop, 10 min |")
    assert a == "| a | f | 1 | 1 | r | 50.00%, 2 ep | 80.00%, 2 ep | 70.00%, 2.1 ep |"
    assert b == "| b | f | 1 | 1 | r | – | needs 11m | 30.00%, 2.1 ep ▼ |"  # refused while the loop trained: below
    tables = [{"rows": {"a2": short}}, {"rows": {"a10": _row("a", 0, 0.8, 0.7), "b10": refused}}]
    assert budget_plot(tables, tmp_path / "z.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
