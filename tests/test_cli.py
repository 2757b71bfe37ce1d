"""The CLI end to end, as a user runs it: the real console script in a subprocess, on small data."""

from __future__ import annotations

import contextlib
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
import torch

import cifarlab
from cifarlab.data.cifar import load_cifar10
from cifarlab.training.history import METRIC_COLUMNS
from cifarlab.training.step import evaluate

CLI = str(Path(sys.executable).parent / "cifarlab")
SMALL = ["--train-limit", "1500", "--val-size", "300", "--no-progress"]
QUICK = [*SMALL, "--no-report"]  # runs whose report files no test reads


def default_sigint() -> None:
    """In the child: take Ctrl-C as a user would. A test run started in the background (`cmd &`) has
    SIGINT ignored, which children inherit and which makes Python skip its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


_SHARED: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _cli_cache(_session_cache):
    """CLI runs share the session's data cache: each would otherwise re-parse the fake data set."""
    _SHARED["CIFARLAB_CACHE"] = str(_session_cache)


def cli(*args, env=None, check=True, timeout=240) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **_SHARED, **(env or {})}
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"cifarlab {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def cli_in_process(*args, env=None, check=False) -> subprocess.CompletedProcess:
    """``cifarlab ARGS`` through :func:`cifarlab.cli.app.main` in this process: the same code as the console
    script without the ~1.4 s start of a new interpreter importing torch, for the tests (and module
    fixtures) whose subject is not the process itself (signals, exit on a kill, the installed script:
    those keep :func:`cli`). Like :func:`cli` it reads the session's data cache and takes ``env`` on
    top; the environment and torch's thread count (a ``--threads`` in ARGS sets it) are given back
    afterwards. An exception main() does not turn into one line propagates and fails the test, as a
    traceback would."""
    from cifarlab.cli.app import main

    updates = {**_SHARED, **(env or {})}
    threads, before = torch.get_num_threads(), {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        torch.set_num_threads(threads)
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    proc = subprocess.CompletedProcess(["cifarlab", *map(str, args)], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"cifarlab {' '.join(map(str, args))} failed ({code}):\n{proc.stderr}")
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("cifarlab: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_models_and_recipes_listing():
    out = cli("models").stdout
    for name in cifarlab.list_models():
        assert name in out
    assert "667,178" in out and "714,314" in out  # cnn3 and cnn3_wide parameter counts
    recipes = cli("recipes").stdout
    for name in (
        "seed-softmax",
        "seed-mlp-first",
        "seed-mlp-final",
        "seed-cnn1",
        "seed-cnn2",
        "seed-cnn3",
        "seed-cnn3-wide",
    ):
        assert f"\n{name}\n" in f"\n{recipes}"
    assert "train_batches=1\n" in recipes.split("seed-mlp-first")[1].split("seed-mlp-final")[0]


@pytest.fixture(scope="module")
def trained_run(fake_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    proc = cli(
        "train",
        "--recipe",
        "seed-softmax",
        "--data",
        fake_folder,
        "--epochs",
        "3",
        "--seed",
        "3",
        "--out",
        out,
        "--name",
        "e2e",
        *SMALL,
    )
    return out, proc


def test_train_end_to_end_writes_a_complete_run(trained_run, fake_folder):
    out, proc = trained_run
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir == out / "e2e"
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.json",
        "metrics.csv",
        "curves.png",
        "model.pt",
        "summary.json",
    }
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(METRIC_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert all(r[1] and r[3] and r[5] for r in rows[1:])  # train, val and test columns all filled

    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "softmax" and config["recipe"] == "seed-softmax"
    assert config["train"]["epochs"] == 3 and config["data"]["train_limit"] == 1500
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in (
        "best_val_acc",
        "best_epoch",
        "epochs_run",
        "final_test_acc",
        "test_acc",
        "wall_seconds",
        "device",
        "torch_version",
        "seed",
    ):
        assert key in summary
    assert summary["epochs_run"] == 3 and summary["seed"] == 3 and summary["torch_version"] == torch.__version__
    assert summary["train_images"] == 1200 and summary["val_images"] == 300

    # model.pt rebuilds in one call, and summary's test_acc is exactly what those weights score
    run = cifarlab.load_run(run_dir)
    arrays = load_cifar10(fake_folder)
    assert run.classes == list(arrays.classes)
    assert summary["test_acc"] == evaluate(run.model, arrays.test_x, arrays.test_y)[1]
    probs = run.predict(arrays.test_x[:5])
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5))
    assert summary["test_acc"] > 0.25  # well above chance (0.1): it learned


def test_same_seed_reproduces_metrics_and_names_never_collide(trained_run, fake_folder):
    out, first = trained_run
    proc = cli(
        "train",
        "--recipe",
        "seed-softmax",
        "--data",
        fake_folder,
        "--epochs",
        "3",
        "--seed",
        "3",
        "--out",
        out,
        "--name",
        "e2e",
        *QUICK,
    )
    second = Path(proc.stdout.strip().splitlines()[-1])
    assert second == out / "e2e-2"

    def metrics(d):
        with open(d / "metrics.csv") as f:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]

    assert metrics(out / "e2e") == metrics(second)


def test_evaluate_run_writes_report_files(trained_run, fake_folder):
    out, _ = trained_run
    proc = cli("evaluate", out / "e2e", "--data", fake_folder)
    summary = json.loads((out / "e2e" / "summary.json").read_text())
    assert f"test accuracy {100 * summary['test_acc']:.2f}%" in proc.stdout
    ev = json.loads((out / "e2e" / "evaluation.json").read_text())
    assert ev["test_acc"] == summary["test_acc"]
    assert sum(map(sum, ev["confusion"])) == 10000
    assert (out / "e2e" / "confusion.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--model", "cnn3wide"], ["unknown model 'cnn3wide'", "Did you mean 'cnn3_wide'"]),
        (["--recipe", "seed-cnn"], ["unknown recipe", "Did you mean"]),
        (["--optimizer", "adma"], ["unknown optimizer 'adma'", "Did you mean 'adam'"]),
        (["--lr", "0"], ["--lr must be a positive"]),
        (["--epochs", "0"], ["--epochs must be a positive"]),
        (["--batch-size", "-4"], ["--batch-size must be a positive"]),
        (["--val-size", "60000"], ["--val-size 60000 leaves no training images"]),
        (["--train-batches", "7"], ["train-batches"]),
        (["--model-arg", "depth=4"], ["model 'fastnet' cannot be built with", "depth=4", "2 or 3"]),
        (["--model-arg", "wdith=0.5"], ["model 'fastnet' has no option wdith", "its options: width, widths, depth"]),
        (["--model", "mlp_final", "--optimizer", "muon"], ["--optimizer muon", "has none", "--optimizer sgd"]),
    ],
)
def test_bad_input_one_line_error(args, needles, fake_folder, tmp_path):
    proc = cli_in_process("train", "--data", fake_folder, "--out", tmp_path / "runs", *args)
    assert_one_line_error(proc, *needles)
    assert not any((tmp_path / "runs").glob("*/")), "a failed start left a run folder behind"


def test_unwritable_output_folder(fake_folder, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = cli("train", "--data", fake_folder, "--out", blocker / "runs", check=False)
    assert_one_line_error(proc, "cannot write to", "--out")


def test_no_data_and_offline(tmp_path):
    env = {"CIFARLAB_DATA": "", "CIFARLAB_CACHE": str(tmp_path / "empty-cache")}
    proc = cli("train", "--offline", "--out", tmp_path / "runs", env=env, check=False)
    assert_one_line_error(proc, "--offline")


def test_interrupted_run_keeps_completed_epochs(fake_folder, tmp_path):
    args = [
        CLI,
        "train",
        "--recipe",
        "seed-softmax",
        "--data",
        str(fake_folder),
        "--epochs",
        "500",
        "--out",
        str(tmp_path),
        "--name",
        "long",
        *QUICK,
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
        env={**os.environ, **_SHARED},
    )
    metrics = tmp_path / "long" / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = metrics.read_text().splitlines()
    assert len(lines) >= 3 and lines[0] == ",".join(METRIC_COLUMNS)
    assert [ln.split(",")[0] for ln in lines[1:]] == [str(i) for i in range(1, len(lines))]
    assert all(len(ln.split(",")) == len(METRIC_COLUMNS) for ln in lines[1:])
    summary = json.loads((tmp_path / "long" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] == len(lines) - 1


def test_test_limit_scores_the_first_test_images(fake_folder, tmp_path):
    args = ["--recipe", "seed-softmax", "--epochs", "1", "--test-limit", "300", "--name", "t"]
    proc = cli("train", *args, *SMALL, "--data", fake_folder, "--out", tmp_path)
    assert "1200 train / 300 val / 300 test images" in proc.stdout
    run = cifarlab.load_run(tmp_path / "t")
    assert run.config.data.test_limit == 300 and run.summary["test_images"] == 300
    arrays = load_cifar10(fake_folder, progress=False)
    predicted = run.predict(arrays.test_x[:300]).argmax(1)  # the reference: the saved model on the first N

    def reference(n: int) -> float:
        return (predicted[:n] == arrays.test_y[:n]).float().mean().item()

    assert run.summary["test_acc"] == pytest.approx(reference(300))
    headline = f"Test accuracy <b>{100 * run.summary['test_acc']:.2f}%</b> on 300 test images"
    assert headline in (tmp_path / "t" / "report.html").read_text()
    # the report's evaluation scored the run's own 300 images, as its summary did
    ev = json.loads((tmp_path / "t" / "evaluation.json").read_text())
    assert ev["test_images"] == 300 == sum(map(sum, ev["confusion"]))
    assert ev["test_acc"] == pytest.approx(reference(300))
    # `evaluate --test-limit N` scores another count; a bad N is one line and leaves the files as they were
    bad = cli_in_process("evaluate", tmp_path / "t", "--test-limit", "0", "--data", fake_folder)
    assert_one_line_error(bad, "--test-limit must be a positive number of images, got 0")
    assert json.loads((tmp_path / "t" / "evaluation.json").read_text()) == ev
    out = cli_in_process("evaluate", tmp_path / "t", "--test-limit", "100", "--data", fake_folder, check=True)
    ev = json.loads((tmp_path / "t" / "evaluation.json").read_text())
    assert ev["test_images"] == 100 and ev["test_acc"] == pytest.approx(reference(100)) and "100 images" in out.stdout
    # compare says what the accuracy is on, beside it
    table = cli_in_process("compare", tmp_path / "t", "--out", tmp_path / "cmp.png", check=True).stdout
    assert f"| {100 * run.summary['test_acc']:.2f}% | 300 |" in table


def test_select_on_test_reproduces_the_notebook_protocol(fake_folder, tmp_path):
    proc = cli(
        "train",
        "--recipe",
        "seed-mlp-first",
        "--data",
        fake_folder,
        "--epochs",
        "2",
        "--select-on",
        "test",
        "--out",
        tmp_path,
        "--name",
        "nb",
        "--no-progress",
        "--no-report",
    )
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert config["data"]["val_size"] == 0 and config["data"]["train_batches"] == [1]
    assert summary["selected_on"] == "test" and summary["train_images"] == 10000 and summary["val_images"] == 0


def test_fractional_epochs_train_part_of_a_last_epoch(fake_folder, tmp_path):
    # 1,200 training images at batch 256: 5 steps per epoch; 1.5 epochs = 8 steps, the last 3 in epoch 2
    proc = cli(
        "train",
        "--recipe",
        "seed-softmax",
        "--data",
        fake_folder,
        "--epochs",
        "1.5",
        "--out",
        tmp_path,
        "--name",
        "half",
        *QUICK,
    )
    assert "epoch   1/2  train" in proc.stdout and "epoch   2/2 (3 of 5 batches)  train" in proc.stdout
    config = json.loads((tmp_path / "half" / "config.json").read_text())
    summary = json.loads((tmp_path / "half" / "summary.json").read_text())
    assert config["train"]["epochs"] == 1.5 and summary["epochs_trained"] == 1.6  # 8 whole steps of 5 per epoch
    rows = list(csv.DictReader((tmp_path / "half" / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(r["test_acc"] for r in rows)
    whole = cli(
        "train",
        "--recipe",
        "seed-softmax",
        "--data",
        fake_folder,
        "--epochs",
        "2.0",
        "--out",
        tmp_path,
        "--name",
        "whole",
        *QUICK,
    )
    assert '"epochs": 2,' in (tmp_path / "whole" / "config.json").read_text() and "epoch   2/2 " in whole.stdout


def test_model_args_reach_the_model(fake_folder, tmp_path):
    # list-valued options survive config.json and model.pt: load_run rebuilds the same network
    proc = cli(
        "train",
        "--model",
        "fastnet",
        "--model-arg",
        "widths=[8,16,24]",
        "--model-arg",
        "depth=3",
        "--data",
        fake_folder,
        "--epochs",
        "1",
        "--train-limit",
        "600",
        "--val-size",
        "100",
        "--test-limit",
        "500",
        "--out",
        tmp_path,
        "--no-progress",
        "--no-report",
    )
    run = cifarlab.load_run(Path(proc.stdout.strip().splitlines()[-1]))
    assert run.config.model_kwargs == {"widths": [8, 16, 24], "depth": 3}
    assert run.model.head.in_features == 24 and run.model.groups[2].conv3.out_channels == 24
    bad = cli_in_process("train", "--model-arg", "width", "--data", fake_folder, "--out", tmp_path)
    assert_one_line_error(bad, "--model-arg expects KEY=VALUE")
