"""Hostile review, distributed and tuning workers (issues 10 and 16): processes that stop responding or
die under a data-parallel run or a tuning study.

A rank that hangs (SIGSTOP) must end the run within ``--dist-timeout``, not gloo's 10 minutes; a rank
that dies leaves one line per process (no traceback) and a launcher line that says what happened, what
was saved and how to resume; a tuning worker killed mid-trial leaves a trial that the next worker marks
failed and every summary counts.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import _SHARED, CLI, _cli_cache, assert_one_line_error, cli_in_process  # noqa: F401
from test_hostile import TINY

from cifarlab.training import distributed

# the hostile tests' tiny run, with far more epochs than the tests wait for (the run is mid-training
# when it is disturbed) and a smaller test set
TINY_DIST = [*TINY[:7], "100", *TINY[8:12], "--test-limit", "1000", *TINY[12:]]


def _env() -> dict[str, str]:
    return {**os.environ, **_SHARED, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _launch(fake_folder: Path, out: Path, name: str, *extra: str) -> subprocess.Popen:
    args = [CLI, "train", *TINY_DIST, "--data", str(fake_folder), "--out", str(out), "--name", name, "--nproc", "2"]
    return subprocess.Popen([*args, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _wait_for_training(proc: subprocess.Popen, run: Path) -> None:
    """Until the first checkpoint exists: setup is over, the ranks train."""
    deadline = time.monotonic() + 180
    while not (run / "last.pt").exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before training ({proc.returncode}):\n{out}\n{err}")
        assert time.monotonic() < deadline, "no checkpoint after 180 s"
        time.sleep(0.05)


def _rank_pid(launcher: int, rank: int) -> int:
    """The process of ``rank`` among the children of this test's launcher (not another test's)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == launcher and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no rank {rank} under launcher {launcher}")


def _sigterm_pending(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    masks = [int(line.split()[1], 16) for line in status.splitlines() if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(m & (1 << (signal.SIGTERM - 1)) for m in masks)


def _finish(proc: subprocess.Popen, *pids: int, timeout: float = 120) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pid in pids:  # never leave a stopped rank behind, whatever happened
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- 10a. a rank that stops responding ----------------------------------------------------------------


@pytest.mark.slow
def test_a_rank_that_stops_responding_ends_the_run_within_the_dist_timeout(fake_folder, tmp_path):
    run = tmp_path / "stall"
    proc = _launch(fake_folder, tmp_path, "stall", "--dist-timeout", "8")
    _wait_for_training(proc, run)
    victim = _rank_pid(proc.pid, 1)
    os.kill(victim, signal.SIGSTOP)  # alive but silent: gloo's own timeout would wait 10 minutes
    stopped = time.monotonic()
    done = _finish(proc, victim)
    waited = time.monotonic() - stopped
    # 8 s for rank 0 to give up, then torchrun's 30 s grace before it SIGKILLs the stopped rank
    assert waited < 75, f"the launcher took {waited:.0f}s"
    line = assert_one_line_error(
        done, "training process 1 of 2 stopped responding", "--dist-timeout", f"--resume {run} --nproc 2"
    )
    assert "process 0 gave up waiting" in line
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"  # rank 0 lived to write it


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_dist_timeout_must_be_a_positive_number_of_seconds(tmp_path, value):
    proc = cli_in_process("train", *TINY_DIST, "--out", tmp_path, "--nproc", "2", f"--dist-timeout={value}")
    assert_one_line_error(proc, "--dist-timeout must be a positive number of seconds")
    assert not any(tmp_path.iterdir()), "nothing was started"


def test_the_setup_waits_for_a_download_and_training_for_the_setting():
    assert distributed.SETUP_TIMEOUT_S >= 30 * 60, "setup covers rank 0 downloading while the others wait"
    from cifarlab.config.schema import TrainConfig

    assert 0 < TrainConfig.dist_timeout < distributed.SETUP_TIMEOUT_S


def test_the_launchers_line_says_what_stopped_the_run_and_what_is_left(tmp_path):
    now = time.time()
    line = distributed.failure_line(2, 0, -9, {0: now - 1, 1: now}, None, now - 60)
    assert "process 0 of 2 was killed by signal 9 (SIGKILL)" in line and "no run folder was made yet" in line
    run = tmp_path / "r"
    run.mkdir()
    (run / "summary.json").write_text("{}")
    os.utime(run / "summary.json", (now - 3600, now - 3600))  # from an earlier session of a resumed run
    line = distributed.failure_line(2, 1, 1, {0: now - 20, 1: now}, run, now - 60)
    assert "process 0 of 2 stopped responding (no sign of life for 20s), so process 1 gave up" in line
    assert f"{run} has none from this run" in line and "no epoch was saved" in line
    assert distributed._resumed_run(["train", "--resume", str(run), "--epochs", "3"]) == run
    assert distributed._resumed_run(["train", f"--resume={run}"]) == run
    assert distributed._resumed_run(["train", "--epochs", "3"]) is None


# --- 10b. rank 0 dies -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_killing_rank_0_stops_the_run_in_one_line_per_process_without_a_traceback(fake_folder, tmp_path):
    run = tmp_path / "killed"
    proc = _launch(fake_folder, tmp_path, "killed")
    _wait_for_training(proc, run)
    rank0, rank1 = _rank_pid(proc.pid, 0), _rank_pid(proc.pid, 1)
    # Hold rank 1 while rank 0 dies, so that torchrun's SIGTERM (sent to the survivors when a rank dies)
    # reaches it in the middle of its work, as it does when that rank is busy: then let it go on.
    os.kill(rank1, signal.SIGSTOP)
    os.kill(rank0, signal.SIGKILL)
    deadline = time.monotonic() + 25  # torchrun SIGKILLs a rank that ignores SIGTERM for 30 s
    while not _sigterm_pending(rank1):
        assert time.monotonic() < deadline, "torchrun did not stop rank 1"
        time.sleep(0.05)
    os.kill(rank1, signal.SIGCONT)
    done = _finish(proc, rank1)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    line = assert_one_line_error(
        done,
        "training process 0 of 2 was killed by signal 9 (SIGKILL)",
        "process 0 writes summary.json and was killed before it could",
        f"--resume {run} --nproc 2",
    )
    assert "epoch" in line and "saved" in line
    # rank 1 says so in one line, unless a loaded machine let torchrun's grace run out and it was killed
    ranks = [ln for ln in done.stderr.splitlines() if ln.startswith("cifarlab: rank 1:")]
    assert ranks in ([], [ln for ln in ranks if "stopped by SIGTERM" in ln]) and len(ranks) <= 1, done.stderr
    assert all(ln.startswith("cifarlab: ") for ln in done.stderr.strip().splitlines()), done.stderr
    assert not (run / "summary.json").exists(), "only rank 0 writes it, and rank 0 is dead"


# --- 16. a tuning worker killed mid-trial -----------------------------------------------------------------

TUNE = ["--recipe", "seed-mlp-first", "--study", "hb", "--pruner", "none", "--train-limit", "600", "--val-size", "100"]
TUNE += ["--test-limit", "500", "--batch-size", "100"]


@pytest.mark.slow
def test_a_killed_tune_workers_trial_becomes_failed_and_is_counted(fake_folder, tmp_path, monkeypatch):
    # Both workers use a 1 s heartbeat and a 2 s grace (every worker of a study must use the same).
    patch = "import cifarlab.tools.study_storage as t; t.HEARTBEAT_INTERVAL_S, t.GRACE_PERIOD_S = 1, 2"
    worker = [sys.executable, "-c", f"{patch}; import sys; from cifarlab.cli.app import main; sys.exit(main())"]
    args = ["tune", *TUNE, "--data", str(fake_folder), "--out", str(tmp_path)]
    killed = subprocess.Popen(
        [*worker, *args, "--trials", "1", "--epochs", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    trial = tmp_path / "tune" / "hb" / "trial-0000"
    deadline = time.monotonic() + 120
    try:
        while not (trial / "last.pt").exists():  # mid-trial: an epoch is saved, 199 to go
            assert killed.poll() is None, killed.communicate()
            assert time.monotonic() < deadline, "the first worker never started its trial"
            time.sleep(0.05)
    finally:
        killed.kill()  # SIGKILL: no chance to mark its trial finished
        killed.communicate()
    time.sleep(3.5)  # past the grace (SQLite's clock counts whole seconds)

    monkeypatch.setattr("cifarlab.tools.study_storage.HEARTBEAT_INTERVAL_S", 1, raising=False)
    monkeypatch.setattr("cifarlab.tools.study_storage.GRACE_PERIOD_S", 2, raising=False)
    proc = cli_in_process(*args, "--trials", "1", "--epochs", "1", check=True)
    assert "2 trials, 1 completed, 0 pruned, 1 failed, 0 running" in proc.stdout, proc.stdout
    with open(tmp_path / "tune" / "hb" / "trials.csv") as f:
        states = {row["number"]: row["state"] for row in csv.DictReader(f)}
    assert states == {"0": "FAIL", "1": "COMPLETE"}
    best = json.loads((tmp_path / "tune" / "hb" / "best_params.json").read_text())
    assert (best["trials"], best["completed"], best["failed"], best["running"]) == (2, 1, 1, 0)
    assert (trial / "last.pt").exists(), "the failed trial's run folder keeps its saved epochs"
