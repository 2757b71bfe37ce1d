"""Hostile input, one test per defect found by the hardening pass (issue 16).

Each test feeds cifarlab what an attacker or a careless colleague would (a booby-trapped checkpoint,
a name that climbs out of --out, a decompression bomb, damaged run files, two processes on one run)
and asserts the safe outcome: nothing executed, nothing written outside the run folder, one line
saying what to do, a non-zero exit. The data-path hostile tests (archives, pickles) live in test_data.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from test_cli import _SHARED, assert_one_line_error, cli  # noqa: F401

TINY = ["--model", "mlp_first", "--optimizer", "adam", "--lr", "1e-3", "--epochs", "1", "--train-limit", "600",
        "--val-size", "100", "--batch-size", "100", "--no-progress", "--no-report"]  # fmt: skip


class _Evil:
    """Unpickling this runs ``Path(marker).touch()``: what a booby-trapped checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def tiny_run(fake_folder, tmp_path_factory, _session_cache) -> Path:
    """One finished 1-epoch run; tests copy it before damaging it."""
    _SHARED["CIFARLAB_CACHE"] = str(_session_cache)
    out = tmp_path_factory.mktemp("tiny-run")
    cli("train", *TINY, "--data", fake_folder, "--out", out, "--name", "r")
    return out / "r"


def _copy_run(run: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(run, dest)
    return dest


@pytest.mark.parametrize("which", ["last", "best"])
def test_resume_never_runs_code_from_a_checkpoint(tiny_run, fake_folder, tmp_path, which):
    run = _copy_run(tiny_run, tmp_path / "run")
    marker = tmp_path / "PWNED"
    torch.save({"format": "cifarlab.checkpoint/1", "x": _Evil(marker)}, run / f"{which}.pt")
    args = ["train", "--resume", run, "--epochs", "2", "--override", "--data", fake_folder]
    if which == "best":
        args += ["--resume-from", "best"]
    proc = cli(*args, check=False)
    assert not marker.exists(), "loading a checkpoint ran code stored in it"
    assert_one_line_error(proc, f"{which}.pt", "not a cifarlab checkpoint")


def test_a_real_checkpoint_loads_with_the_safe_loader(tiny_run):
    state = torch.load(tiny_run / "last.pt", map_location="cpu", weights_only=True)
    assert state["format"] == "cifarlab.checkpoint/1" and state["epoch"] == 1
