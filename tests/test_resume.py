"""Checkpoints and resume: a run killed mid-epoch and resumed equals an uninterrupted run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from test_cli import _SHARED, CLI, _cli_cache, assert_one_line_error, cli, cli_in_process, default_sigint  # noqa: F401

from cifarlab.training.checkpoint import CheckpointWriter, load_checkpoint
from cifarlab.training.history import METRIC_COLUMNS, EarlyStopping

# Dropout 0.3 uses the global RNG; flips and translations use the augmentation RNG; Adam has state;
# patience adds early-stopping state: all of it must carry over a kill for the metrics to match.
ARGS = [
    "--recipe",
    "fast",
    "--model",
    "mlp_first",
    "--model-arg",
    "dropout=0.3",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--epochs",
    "6",
    "--seed",
    "5",
    "--train-limit",
    "4000",
    "--val-size",
    "500",
    "--batch-size",
    "100",
    "--flip",
    "alternating",
    "--translate",
    "2",
    "--patience",
    "4",
    "--no-progress",
    "--no-report",
]
SHORT = [a if a != "6" else "2" for a in ARGS]


def metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(fake_folder, tmp_path):
    cli("train", *ARGS, "--data", fake_folder, "--out", tmp_path, "--name", "whole")
    proc = subprocess.Popen(
        [CLI, "train", *ARGS, "--data", str(fake_folder), "--out", str(tmp_path), "--name", "cut"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **_SHARED},
    )
    cut = tmp_path / "cut"
    deadline = time.time() + 120
    while time.time() < deadline and not (
        (cut / "metrics.csv").exists() and len((cut / "metrics.csv").read_text().splitlines()) >= 3
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # lands in epoch 3 (or its evaluation): the run is mid-way
    proc.wait(timeout=30)
    done = len((cut / "metrics.csv").read_text().splitlines()) - 1
    assert 2 <= done < 6, "the kill should land before the run finished"
    assert not (cut / "model.pt").exists()

    out = cli("train", "--resume", cut, "--data", fake_folder, "--no-report").stdout
    assert "resuming" in out and out.strip().splitlines()[-1] == str(cut)
    assert [r["epoch"] for r in metrics(cut)] == ["1", "2", "3", "4", "5", "6"]
    assert metrics(cut) == metrics(tmp_path / "whole")
    assert (cut / "model.pt").exists() and (cut / "best.pt").exists()


def test_resume_refuses_changed_settings_unless_override(fake_folder, tmp_path):
    cli_in_process("train", *SHORT, "--data", fake_folder, "--out", tmp_path, "--name", "r", check=True)
    proc = cli_in_process("train", "--resume", tmp_path / "r", "--epochs", "3", "--lr", "0.01")
    line = assert_one_line_error(proc, "differ from the run's config", "--override")
    assert "train.epochs 2 -> 3" in line and "train.lr 0.001 -> 0.01" in line
    resume = ["train", "--resume", tmp_path / "r", "--epochs", "3", "--override", "--data", fake_folder, "--no-report"]
    cli_in_process(*resume, check=True)
    assert [r["epoch"] for r in metrics(tmp_path / "r")] == ["1", "2", "3"]


def test_corrupt_last_checkpoint_names_the_file_and_best_still_works(fake_folder, tmp_path):
    cli_in_process("train", *SHORT, "--data", fake_folder, "--out", tmp_path, "--name", "c", check=True)
    last = tmp_path / "c" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    proc = cli_in_process("train", "--resume", tmp_path / "c", "--data", fake_folder)
    assert_one_line_error(proc, str(last), "--resume-from best")
    resume = ["train", "--resume", tmp_path / "c", "--resume-from", "best", "--data", fake_folder, "--no-report"]
    proc = cli_in_process(*resume, check=True)
    assert proc.stdout.strip().splitlines()[-1] == str(tmp_path / "c")


def test_ctrl_c_hints_how_to_resume(fake_folder, tmp_path):
    proc = subprocess.Popen(
        [CLI, "train", *ARGS, "--epochs", "50", "--data", str(fake_folder), "--out", str(tmp_path), "--name", "i"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
        env={**os.environ, **_SHARED},
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "i" / "last.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"cifarlab train --resume {tmp_path / 'i'}" in out


class _FakeTrainer:
    """What CheckpointWriter reads from a Trainer: a device, checkpoint_state() and the stopper's best epoch."""

    def __init__(self):
        self.device, self.stopper = torch.device("cpu"), EarlyStopping()
        self.weight = torch.zeros(3)

    def checkpoint_state(self):
        return {"model": {"w": self.weight}}  # the live tensor, as an optimizer state_dict holds it


@pytest.mark.parametrize("background", [False, True])
def test_checkpoint_writer_saves_each_epochs_snapshot(tmp_path, background):
    writer = CheckpointWriter(tmp_path, {"k": 1}, ["a", "b"], background=background)
    trainer = _FakeTrainer()
    writer.on_train_begin(trainer)
    for epoch, improved in [(1, True), (2, False), (3, True), (4, False)]:
        trainer.weight.fill_(epoch)
        if improved:
            trainer.stopper.best_epoch = epoch
        writer.on_epoch_end(trainer, {"epoch": epoch})
        trainer.weight.fill_(-1)  # training goes on while a background write is in flight
    writer.on_train_end(trainer, {})
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(tmp_path / "best.pt")
    assert last["model"]["w"].tolist() == [4.0] * 3 and best["model"]["w"].tolist() == [3.0] * 3
    assert last["config"] == {"k": 1} and last["classes"] == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]  # no temp files left


def test_checkpoint_writer_raises_a_failed_background_write(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    writer = CheckpointWriter(run, {}, [], background=True)
    trainer = _FakeTrainer()
    run.rmdir()  # the folder vanished: the write in the thread fails
    writer.on_epoch_end(trainer, {"epoch": 1})
    with pytest.raises(FileNotFoundError):
        writer.close()


def _writer_and_trainer(tmp_path, plot):
    """A RunWriter in tmp_path drawing with ``plot``, and a stand-in trainer with an empty history."""
    from cifarlab.config.schema import ExperimentConfig
    from cifarlab.runs.store import RunWriter

    writer = RunWriter(tmp_path, ExperimentConfig(model="softmax"), ["a"])
    writer._plot_curves = plot
    history = type("H", (), {"rows": []})()
    return writer, history, type("T", (), {"history": history})()


def test_curves_are_redrawn_while_cheap_and_always_at_the_end(tmp_path):
    drawn = []
    writer, history, trainer = _writer_and_trainer(tmp_path, lambda rows, path, title: drawn.append(len(rows)))
    row = {c: 0.5 for c in METRIC_COLUMNS}
    for epoch in (1, 2, 3):
        history.rows.append({**row, "epoch": epoch})
        writer.on_epoch_end(trainer, history.rows[-1])
        writer._plot_cost = 1e9  # a redraw now "costs" far more than an epoch: no more until the end
    assert drawn == [1]
    writer.finish_curves()
    writer.finish_curves()  # nothing new to draw
    assert drawn == [1, 3]


def test_an_interrupt_between_history_and_metrics_csv_leaves_them_agreeing(tmp_path):
    # The race CI once hit: SIGINT after the trainer appended epoch 4 to its history but before
    # on_epoch_end wrote it to metrics.csv; summary.json said 4 epochs, the CSV held 3.
    from cifarlab.runs.store import read_metrics

    writer, history, trainer = _writer_and_trainer(tmp_path, lambda rows, path, title: None)
    row = {c: 0.25 for c in METRIC_COLUMNS}
    for epoch in (1, 2, 3):
        history.rows.append({**row, "epoch": epoch})
        writer.on_epoch_end(trainer, history.rows[-1])
    history.rows.append({**row, "epoch": 4})  # recorded, then interrupted before the CSV append
    writer.fail(trainer, "interrupted", KeyboardInterrupt())
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["test_acc"] == 0.25
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] == 4
