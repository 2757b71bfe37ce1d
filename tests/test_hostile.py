"""Hostile input, one test per defect found by the hardening pass (issue 16).

Each test feeds cifarlab what an attacker or a careless colleague would (a booby-trapped checkpoint,
a name that climbs out of --out, a decompression bomb, damaged run files, two processes on one run)
and asserts the safe outcome: nothing executed, nothing written outside the run folder, one line
saying what to do, a non-zero exit. The data-path hostile tests (archives, pickles) live in test_data.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest
import torch
from test_cli import _SHARED, CLI, _cli_cache, assert_one_line_error, cli, cli_in_process  # noqa: F401

from cifarlab.core.errors import RunError

TINY = [
    "--model",
    "mlp_first",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--epochs",
    "1",
    "--train-limit",
    "600",
    "--val-size",
    "100",
    "--batch-size",
    "100",
    "--no-progress",
    "--no-report",
]
TUNE = [*TINY[:8], "--batch-size", "100"]  # the model and optimisation flags; tune has no --val-size 100 here


class _Evil:
    """Unpickling this runs ``Path(marker).touch()``: what a booby-trapped checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _copy_run(run: Path, dest: Path) -> Path:
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
    proc = cli_in_process(*args)
    assert not marker.exists(), "loading a checkpoint ran code stored in it"
    assert_one_line_error(proc, f"{which}.pt", "not a cifarlab checkpoint")


def test_a_real_checkpoint_loads_with_the_safe_loader(tiny_run):
    state = torch.load(tiny_run / "last.pt", map_location="cpu", weights_only=True)
    assert state["format"] == "cifarlab.checkpoint/1" and state["epoch"] == 1


# --- 2. names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../ESCAPED", "/abs/path", "a/b", "x" * 300, ".hidden", "-rf", ""])
def test_a_run_name_is_one_folder_name(tmp_path, name):
    out = tmp_path / "runs"
    proc = cli_in_process("train", *TINY, "--out", out, f"--name={name}")
    assert_one_line_error(proc, "--name", "not a valid name")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, not even --out
    assert not Path("/abs/path").exists()


def test_a_study_name_is_one_folder_name(tmp_path, fake_folder):
    proc = cli_in_process("tune", *TUNE, "--data", fake_folder, "--out", tmp_path, "--study", "../up")
    assert_one_line_error(proc, "--study", "not a valid name")
    assert list(tmp_path.iterdir()) == []


# --- 3. decompression bomb next to a good image --------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` pixels (what a bomb's header says) in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\0" * (width + 1) * 4)  # a few rows; never decoded
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_one_per_file_error(tiny_run, tmp_path):
    from PIL import Image

    ok = tmp_path / "ok.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(ok)
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 20000)  # over PIL's own bomb limit
    big = _png_header_only(tmp_path / "big.png", 8000, 6000)  # 48 Mpixel: over ours, under PIL's
    proc = cli_in_process("predict", tiny_run, ok, bomb, big)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.startswith(f"{ok}: ") and proc.stdout.count("\n") == 1  # the good image still answered
    errors = proc.stderr.strip().splitlines()
    assert errors[0].startswith(f"cifarlab: error: {bomb}: ") and "downscale" in errors[0]
    assert (
        errors[1] == f"cifarlab: error: {big}: 8000x6000 pixels is over the 40,000,000-pixel limit; downscale it first"
    )
    assert "not writable" not in proc.stderr  # defect 12: torch's NumPy warning is gone too


# --- 4 and 5. everything is checked before a study or a run folder exists ----------------------------


@pytest.mark.parametrize(
    "extra, needle",
    [
        ([], "--val-size"),  # 5000 validation images out of 600
        (["--val-size", "100", "--device", "cuda"], "CUDA is not available"),
        (["--val-size", "100", "--model-arg", "hidden=-1"], "cannot be built"),
    ],
)
def test_tune_checks_everything_before_the_study_exists(tmp_path, fake_folder, extra, needle):
    proc = cli_in_process(
        "tune", *TUNE, "--train-limit", "600", *extra, "--data", fake_folder, "--out", tmp_path, "--trials", "3"
    )
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "tune").exists()  # no study file, no trial folder


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:3", "tpu"])
def test_a_bad_device_leaves_no_run_folder(tmp_path, fake_folder, device):
    proc = cli_in_process("train", *TINY, "--data", fake_folder, "--out", tmp_path, "--name", "r", "--device", device)
    assert_one_line_error(proc, device)
    assert not (tmp_path / "r").exists()


# --- 6. augmentation sizes and threads ---------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, needle",
    [
        ("--translate", "100", "at most 16 pixels"),
        ("--crop", "64", "below the images' 32 pixels"),
        ("--crop", "32", "below the images' 32 pixels"),
        ("--cutout", "1000", "at most 32 pixels"),
        ("--threads", "-1", "--threads"),
        ("--test-limit", "0", "--test-limit must be a positive number of images, got 0"),
        ("--test-limit", "-5", "--test-limit must be a positive number of images, got -5"),
    ],
)
def test_out_of_range_sizes_are_refused(tmp_path, flag, value, needle):
    proc = cli_in_process("train", *TINY, flag, value, "--out", tmp_path)
    assert_one_line_error(proc, needle)
    assert list(tmp_path.iterdir()) == []


# --- 7. damaged or mismatched model files --------------------------------------------------------------


def _edit_model(run: Path, edit) -> None:
    payload = torch.load(run / "model.pt", weights_only=True)
    edit(payload)
    torch.save(payload, run / "model.pt")


@pytest.mark.parametrize(
    "damage, needle",
    [
        ("other_model", "do not fit a 'cnn2'"),  # says cnn2, holds mlp_first's weights
        ("missing_keys", "missing tensors"),
        ("no_state", "lacks the model name"),
        ("unknown_model", "unknown model 'nope'"),
    ],
)
def test_a_damaged_model_file_is_one_line(tiny_run, tmp_path, damage, needle):
    run = _copy_run(tiny_run, tmp_path / "run")
    edits = {
        "other_model": lambda p: p.update(model="cnn2"),
        "missing_keys": lambda p: p["state_dict"].pop(next(iter(p["state_dict"]))),
        "no_state": lambda p: p.pop("state_dict"),
        "unknown_model": lambda p: p.update(model="nope"),
    }
    _edit_model(run, edits[damage])
    for command in (["predict", run, tmp_path / "x.png"], ["export", run, "--format", "onnx"], ["report", run]):
        assert_one_line_error(cli_in_process(*command), needle)
    assert not (run / "model.onnx").exists()


# --- 8. damaged run files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file, content",
    [
        ("summary.json", None),
        ("summary.json", "{not json"),
        ("summary.json", "[1, 2]"),
        ("config.json", "{not json"),
        ("summary.json", '{"wall_seconds": "soon", "model": 3}'),
    ],
)
def test_report_on_damaged_run_files(evaluated_run, tmp_path, file, content):
    run = _copy_run(evaluated_run, tmp_path / "run")
    if content is None:
        (run / file).unlink()
    else:
        (run / file).write_text(content)
    assert_one_line_error(
        cli_in_process("report", run),
        file if content != '{"wall_seconds": "soon", "model": 3}' else "unexpected content",
    )
    assert not (run / "report.html").exists()


@pytest.mark.parametrize(
    "file, content",
    [
        ("metrics.csv", "garbage,\nx,y\n"),
        ("metrics.csv", "\x00\xff\xfe"),
        ("summary.json", "{oops"),
    ],
)
def test_compare_on_damaged_run_files(tiny_run, tmp_path, file, content):
    run = _copy_run(tiny_run, tmp_path / "run")
    (run / file).write_bytes(content.encode("latin-1"))
    proc = cli_in_process("compare", tiny_run, run, "--out", tmp_path / "c.png")
    assert_one_line_error(proc, str(run / file))
    assert not list(tmp_path.glob("c.*"))


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"train": "x"}',
        '{"train": {"epochs": "many"}}',
        '{"train": {"crop": 24, "crop_until": "half"}}',
        '{"train": {"keep_hard": "most"}}',
        '{"train": {"keep_hard": 0}}',
        "[]",
    ],
)
def test_resume_with_a_damaged_config(tiny_run, tmp_path, content):
    run = _copy_run(tiny_run, tmp_path / "run")
    (run / "config.json").write_text(content)
    proc = cli_in_process("train", "--resume", run)
    assert_one_line_error(proc, str(run / "config.json"))


@pytest.mark.parametrize("flag", ["--rounds", "--steps", "--batch-size"])
def test_bench_refuses_zero_rounds(tmp_path, flag):
    proc = cli_in_process("bench", "--throughput", "--models", "softmax", flag, "0", "--out", tmp_path)
    assert_one_line_error(proc, flag, "at least 1")


# --- 9. file modes follow the umask --------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_follow_the_umask(fake_folder, tmp_path, umask):
    old = os.umask(umask)
    try:
        # in this process: the umask is the process's, set here as a shell would set it for a child
        run = tmp_path / "r"
        for args in [
            ["train", *TINY[:-1], "--data", fake_folder, "--out", tmp_path, "--name", "r"],  # with report
            ["train", "--resume", run, "--epochs", "2", "--override", "--data", fake_folder, "--no-report"],
            ["export", run, "--format", "onnx"],
            ["compare", run, "--out", tmp_path / "cmp.png"],
        ]:
            cli_in_process(*args, check=True)
    finally:
        os.umask(old)
    files = [p for p in [*run.iterdir(), *tmp_path.glob("cmp.*")] if p.is_file()]
    assert {
        "metrics.csv",
        "model.pt",
        "last.pt",
        "best.pt",
        "report.html",
        "curves.png",
        "model.onnx",
        "config.json",
        "summary.json",
        "cmp.csv",
    } <= {p.name for p in files}
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert modes == {name: oct(0o666 & ~umask) for name in modes}


# --- 10. one trainer per run folder ------------------------------------------------------------------------


def test_a_second_resume_of_a_run_in_training_is_refused(tiny_run, tmp_path, fake_folder):
    from cifarlab.runs.folder import RunLock

    run = _copy_run(tiny_run, tmp_path / "run")
    before = (run / "metrics.csv").read_bytes()
    lock = RunLock(run).acquire()  # this process is "training" into it
    try:
        proc = cli("train", "--resume", run, "--epochs", "2", "--override", "--data", fake_folder, check=False)
        assert_one_line_error(proc, f"is being trained by pid {os.getpid()}")
        assert (run / "metrics.csv").read_bytes() == before
    finally:
        lock.release()
    resume = ["train", "--resume", run, "--epochs", "2", "--override", "--data", fake_folder, "--no-report"]
    cli_in_process(*resume, check=True)
    assert [r.split(",")[0] for r in (run / "metrics.csv").read_text().splitlines()[1:]] == ["1", "2"]


def test_a_dead_holder_does_not_keep_the_lock(tmp_path):
    from cifarlab.runs.folder import RunLock

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cifarlab.runs.folder import RunLock; "
            f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunError, match=f"being trained by pid {holder.pid}"):
        RunLock(tmp_path).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    RunLock(tmp_path).acquire().release()


# --- 11. outputs never clobber inputs ------------------------------------------------------------------------


def test_outputs_never_replace_a_runs_own_files(tiny_run, tmp_path):
    run = _copy_run(tiny_run, tmp_path / "run")
    snapshot = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for force in ([], ["--force"]):
        assert_one_line_error(
            cli_in_process("export", run, "--format", "torchscript", "--out", run / "model.pt", *force),
            "is a file of the run",
        )
        assert_one_line_error(
            cli_in_process("compare", run, "--out", run / "metrics.png", *force),
            "metrics.csv is a file of the run",
        )
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == snapshot
    assert not (run / "metrics.png").exists()


def test_existing_outputs_need_force(tiny_run, tmp_path):
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"precious")
    proc = cli_in_process("export", tiny_run, "--format", "torchscript", "--out", mine)
    assert_one_line_error(proc, "--force")
    assert mine.read_bytes() == b"precious"
    cli_in_process("export", tiny_run, "--format", "torchscript", "--out", mine, "--force", check=True)
    assert torch.jit.load(str(mine))(torch.rand(1, 3, 32, 32)).shape == (1, 10)

    (tmp_path / "cmp.md").write_text("my notes")
    assert_one_line_error(cli_in_process("compare", tiny_run, "--out", tmp_path / "cmp.png"), "cmp.md exists")
    assert not (tmp_path / "cmp.png").exists() and (tmp_path / "cmp.md").read_text() == "my notes"


# --- 12. the small ones ---------------------------------------------------------------------------------------


def test_resume_removes_stale_temp_files(tiny_run, tmp_path, fake_folder):
    run = _copy_run(tiny_run, tmp_path / "run")
    stale = [run / ".last.pt.0badc0de.tmp", run / ".metrics.csv.12345678.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    resume = ["train", "--resume", run, "--epochs", "2", "--override", "--data", fake_folder, "--no-report"]
    cli_in_process(*resume, check=True)
    assert not any(p.exists() for p in stale)
    assert not list(run.glob(".*.tmp"))


def test_sigterm_saves_like_ctrl_c(fake_folder, tmp_path):
    args = [*TINY, "--epochs", "200", "--data", str(fake_folder), "--out", str(tmp_path), "--name", "t"]
    proc = subprocess.Popen(
        [CLI, "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **_SHARED}
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "t" / "last.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "cifarlab: terminated" and "Traceback" not in err
    assert f"continue with: cifarlab train --resume {tmp_path / 't'}" in out
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["status"] == "terminated" and summary["epochs_run"] >= 1


def test_a_refused_archive_leaves_nothing_in_the_cache(fake_folder, tmp_path, cache_dir):
    import fakecifar

    from cifarlab.core.errors import DataError
    from cifarlab.data.cifar import load_cifar10

    src = tmp_path / "src" / "cifar-10-batches-py"
    shutil.copytree(fake_folder, src)
    marker = tmp_path / "PWNED"
    (src / "data_batch_3").write_bytes(pickle.dumps({b"data": _Evil(marker)}, protocol=2))
    archive = fakecifar.make_fake_archive(tmp_path / "cifar-10-python.tar.gz", folder=src)
    with pytest.raises(DataError, match="data_batch_3 is not a valid CIFAR-10 pickle"):
        load_cifar10(archive, progress=False)
    assert not marker.exists()
    leftovers = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert leftovers == [] and list((cache_dir / "extracted").iterdir()) == []


def test_metrics_csv_has_lf_line_endings(tiny_run):
    data = (tiny_run / "metrics.csv").read_bytes()
    assert b"\r" not in data and data.endswith(b"\n") and data.startswith(b"epoch,train_loss,")


def test_compare_prints_every_accuracy_as_a_percentage(tiny_run, tmp_path):
    table = cli_in_process("compare", tiny_run, "--out", tmp_path / "c.png", check=True).stdout
    row = next(line for line in table.splitlines() if line.startswith("| r |"))
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert f"| {100 * summary['test_acc']:.2f}% |" in row


# --- test-time views named on the command line (issue 18 made evaluate use the run's own) -----------


def test_evaluate_refuses_an_unknown_tta_mode(tiny_run, tmp_path, fake_folder):
    run = _copy_run(tiny_run, tmp_path / "run")
    bad = cli_in_process("evaluate", run, "--tta", "sideways", "--data", fake_folder)
    assert_one_line_error(bad, "unknown --tta mode 'sideways'")
    assert not (run / "evaluation.json").exists()
    ok = cli_in_process("evaluate", run, "--data", fake_folder, check=True)  # no --tta: the run's own views
    saved = json.loads((run / "config.json").read_text())["train"]["tta"]
    assert json.loads((run / "evaluation.json").read_text())["tta"] == saved and "test accuracy" in ok.stdout


# --- HTML in Jupyter (issue 20): names and values come from files anyone may edit ---------------------


def test_notebook_html_escapes_run_and_class_names(tiny_run, tmp_path):
    import dataclasses

    from cifarlab.analysis.compare import comparison
    from cifarlab.runs.store import load_run
    from cifarlab.training.history import History

    hostile = "<img src=x onerror=alert(1)>"
    run_dir = _copy_run(tiny_run, tmp_path / hostile)  # a folder name may hold anything but '/'
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.update(model="<script>alert('model')</script>", status="<b>done</b>", device_name="<iframe>")
    (run_dir / "summary.json").write_text(json.dumps(summary))
    run = dataclasses.replace(load_run(run_dir), classes=["<script>alert('class')</script>", *"abcdefghi"])
    pages = {
        "run": run._repr_html_(),
        "comparison": comparison([run_dir])._repr_html_(),
        "history": History([{"epoch": 1, "<script>col</script>": 0.5, "train_acc": "<svg onload=x>"}])._repr_html_(),
    }
    for what, html in pages.items():
        assert "<script" not in html and "<img src=x" not in html and "<svg" not in html, what
        assert "<iframe" not in html and "<b>" not in html, what
    assert "&lt;script&gt;alert(&#x27;class&#x27;)&lt;/script&gt;" in pages["run"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages["run"] and "&lt;img src=x" in pages["comparison"]
    assert "&lt;script&gt;alert(&#x27;model&#x27;)&lt;/script&gt;" in pages["comparison"]
    assert "&lt;script&gt;col&lt;/script&gt;" in pages["history"] and "&lt;svg onload=x&gt;" in pages["history"]


@pytest.mark.parametrize("content", ["{not json", '{"rows": []}', "[1, 2]", ""])
def test_a_damaged_zoo_table_is_refused_before_any_training_and_kept(tmp_path, content):
    (tmp_path / "zoo.json").write_text(content)
    proc = cli_in_process("bench", "--zoo", "--models", "softmax", "--time-budget", "10s", "--out", tmp_path)
    assert_one_line_error(proc, "zoo.json is not a zoo table", "pick another --out")
    assert (tmp_path / "zoo.json").read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo.json"]  # no runs/, no baseline/


def test_the_baseline_log_does_not_follow_a_planted_symlink(tmp_path):
    from cifarlab.tools import zoobench

    victim = tmp_path / "victim"
    victim.write_text("keep me")
    out = tmp_path / "out"
    (out / "baseline").mkdir(parents=True)
    (out / "baseline" / "softmax-5s-seed0.log").symlink_to(victim)
    (out / "baseline" / "softmax-5s-seed0.json").symlink_to(victim)
    proc, result = zoobench.start_baseline("softmax", 5.0, 0, out, str(tmp_path / "no-data"), 1)
    proc.wait()
    assert victim.read_text() == "keep me"
    assert not (out / "baseline" / "softmax-5s-seed0.log").is_symlink() and not result.exists()
    assert "error" in zoobench.finish_baseline(proc, result)  # no data there: it failed, and says so


# === the second hostile pass ============================================================================
# --- 1. files inside a prepared run folder that are symlinks ----------------------------------------------


@pytest.mark.parametrize("planted", [".lock", "metrics.csv"])
def test_a_planted_symlink_in_a_run_folder_is_never_written_through(tiny_run, fake_folder, tmp_path, planted):
    run = _copy_run(tiny_run, tmp_path / "shared")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (run / planted).unlink(missing_ok=True)
    (run / planted).symlink_to(victim)
    proc = cli_in_process("train", "--resume", run, "--epochs", "2", "--override", "--data", fake_folder)
    if planted == ".lock":  # refused: the lock is opened in place
        assert_one_line_error(proc, ".lock is a symbolic link", "replace it with the file itself")
    else:  # metrics.csv is rewritten by the atomic writer, which replaces the link itself
        assert proc.returncode == 0 and not (run / planted).is_symlink()
    assert victim.read_text() == "precious\n"


# --- 4. FIFOs where a file belongs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fifo, command",
    [
        ("model.pt", ["predict", "RUN", "IMG"]),
        ("model.pt", ["evaluate", "RUN"]),
        ("model.pt", ["export", "RUN", "--format", "onnx"]),
        ("last.pt", ["train", "--resume", "RUN", "--epochs", "2", "--override", "--data", "DATA"]),
        ("summary.json", ["compare", "RUN"]),
    ],
)
def test_a_fifo_in_a_run_folder_is_one_line_not_a_hang(tiny_run, fake_folder, tmp_path, fifo, command):
    run = _copy_run(tiny_run, tmp_path / "run")
    (run / fifo).unlink()
    os.mkfifo(run / fifo)
    values = {"RUN": run, "IMG": tmp_path / "x.png", "DATA": fake_folder}
    proc = cli(*[values.get(a, a) for a in command], check=False, timeout=60)
    assert_one_line_error(proc, f"{fifo} is a FIFO, not a regular file")


# --- 5. a model file's options are not built before its weights fit ----------------------------------------


def test_options_in_a_model_file_allocate_nothing_before_the_weights_fit(tiny_run, tmp_path, monkeypatch):
    import cifarlab.runs.model_file as model_file
    import cifarlab.runs.store as runs

    run = _copy_run(tiny_run, tmp_path / "run")
    _edit_model(run, lambda p: p.update(model="fastnet", model_kwargs={"width": 64}, state_dict={}))
    built_on, create = [], model_file.create_model

    def spy(*args, **kwargs):
        built_on.append(torch.empty(0).device.type)  # "meta" inside `with torch.device("meta")`
        return create(*args, **kwargs)

    monkeypatch.setattr(model_file, "create_model", spy)
    with pytest.raises(RunError, match="its weights do not fit a 'fastnet'"):
        runs.load_run(run)
    assert built_on == ["meta"]


# --- 6. a labels file that declares more than it holds ------------------------------------------------------


def _sparse_npy(path: Path, dtype: str, count: int) -> None:
    """A .npy whose header declares ``count`` items of ``dtype``, made full length by a sparse truncate."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({count},), }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.truncate(f.tell() + count * int(dtype[-1]))


@pytest.mark.parametrize("which", ["corruptions", "shift"])
def test_a_huge_declared_labels_file_allocates_nothing(tmp_path, which):
    import tracemalloc

    from cifarlab.core.errors import DataError
    from cifarlab.data.shifted import official_sets, shift_set

    labels = tmp_path / ("labels.npy" if which == "corruptions" else "cifar10.1_v6_labels.npy")
    _sparse_npy(labels, "|u1", 100_000_000)  # 100 MB on disk as a hole; 800 MB as int64
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="100,000,000 labels, more than the"):
            official_sets(tmp_path, ["frost"], [1], None) if which == "corruptions" else shift_set(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"{peak:,} bytes allocated"


def test_an_npz_named_npy_is_one_line(tiny_run, fake_folder, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    np_ = pytest.importorskip("numpy")
    with open(folder / "labels.npy", "wb") as f:
        np_.savez(f, labels=np_.zeros(10, np_.uint8))
    proc = cli_in_process("robustness", tiny_run, "--corruptions-from", folder, "--data", fake_folder)
    assert_one_line_error(proc, "labels.npy is an .npz archive, not a .npy array")


# --- 7. filesystem faults: one line, checked before the work, nothing half-made -------------------------------


def _no_space_for(monkeypatch, *names: str) -> None:
    """Every atomic write of a file named in ``names`` (all, if none) fails as on a full disk."""
    import errno

    import cifarlab.core.fileio as fileio

    real = fileio.new_temp

    def full(path, suffix=fileio.TEMP_SUFFIX):
        if not names or Path(path).name in names:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, suffix)

    monkeypatch.setattr(fileio, "new_temp", full)


def test_a_full_disk_at_the_start_is_one_line_and_leaves_no_empty_run(fake_folder, tmp_path, monkeypatch):
    _no_space_for(monkeypatch)
    proc = cli_in_process("train", *TINY, "--data", fake_folder, "--out", tmp_path / "runs", "--name", "r")
    assert_one_line_error(proc, "No space left on device", "free some space")
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_failed_first_checkpoint_gives_no_false_resume_hint(fake_folder, tmp_path, monkeypatch):
    _no_space_for(monkeypatch, "last.pt")
    proc = cli_in_process("train", *TINY, "--data", fake_folder, "--out", tmp_path, "--name", "r")
    assert_one_line_error(proc, "No space left on device")
    assert "are saved" not in proc.stdout + proc.stderr and "epoch 1 is saved" not in proc.stdout + proc.stderr
    assert "no epoch was saved" in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", ["evaluate", "robustness"])
def test_an_unwritable_run_folder_is_refused_before_the_work(tiny_run, fake_folder, tmp_path, monkeypatch, command):
    import errno

    import cifarlab.training.step as engine

    run = _copy_run(tiny_run, tmp_path / "run")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    predicted = []
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    monkeypatch.setattr(engine, "predict_logits", lambda *a, **k: predicted.append(1))
    extra = ["--corruptions", "fog", "--severities", "1", "--images", "50"] if command == "robustness" else []
    proc = cli_in_process(command, run, "--data", fake_folder, *extra)
    assert_one_line_error(proc, f"cannot write to {run}", "Read-only file system")
    assert predicted == []


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_on_a_full_disk_is_one_line_and_leaves_no_temp(tiny_run, tmp_path, monkeypatch, fmt):
    run = _copy_run(tiny_run, tmp_path / "run")
    _no_space_for(monkeypatch, "model.onnx", "model.torchscript.pt")
    before = sorted(p.name for p in run.iterdir())
    assert_one_line_error(cli_in_process("export", run, "--format", fmt), "No space left on device")
    assert sorted(p.name for p in run.iterdir()) == before


@pytest.fixture
def full_disk(tmp_path):
    """An 8 MB tmpfs (root only; skipped elsewhere): the real disk-full path, torch's C++ writers included."""
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8M", "tmpfs", mount], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", mount], capture_output=True)


def test_a_real_full_disk(tiny_run, fake_folder, full_disk):
    def fill() -> None:
        with open(full_disk / "filler", "wb") as f, contextlib.suppress(OSError):
            f.write(bytes(32 * 2**20))

    fill()
    proc = cli("train", *TINY, "--data", fake_folder, "--out", full_disk, "--name", "r", check=False)
    assert_one_line_error(proc, "No space left on device")
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]
    (full_disk / "filler").unlink()
    run = full_disk / "run"
    run.mkdir()
    for name in ("model.pt", "config.json", "summary.json"):
        shutil.copy(tiny_run / name, run / name)
    fill()
    proc = cli("export", run, "--format", "torchscript", check=False)  # torch's own writer aborted here
    assert_one_line_error(proc, "No space left on device")
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.pt", "summary.json"]


def test_a_fifo_for_robustness_json_does_not_hang_report_or_compare(evaluated_run, tmp_path):
    run = _copy_run(evaluated_run, tmp_path / "run")
    os.mkfifo(run / "robustness.json")
    for command in (["report", run], ["compare", run, "--out", tmp_path / "cmp.json"]):
        proc = cli(*command, check=False, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "robustness.json is a FIFO, not a regular file" in proc.stderr


# --- 12. data the user cannot read ----------------------------------------------------------------------


def test_an_unreadable_batch_file_is_one_line_without_advice_to_delete_it(fake_folder, tmp_path, monkeypatch):
    import errno

    import cifarlab.data.cifar as data

    real = data.open_file

    def no_permission(path, *args, **kwargs):
        if Path(path).name == "data_batch_1":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(data, "open_file", no_permission)
    folder = tmp_path / "cifar-10-batches-py"
    shutil.copytree(fake_folder, folder)
    proc = cli_in_process(
        "train", *TINY, "--data", folder, "--out", tmp_path / "runs", env={"CIFARLAB_CACHE": str(tmp_path / "c")}
    )
    line = assert_one_line_error(proc, "cannot read", "data_batch_1", "Permission denied", "check its permissions")
    assert "delete" not in line and not list((tmp_path / "runs").iterdir())


def test_a_fifo_as_a_batch_file_is_one_line(fake_folder, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    shutil.copytree(fake_folder, folder)
    (folder / "data_batch_2").unlink()
    os.mkfifo(folder / "data_batch_2")
    proc = cli(
        "train",
        *TINY,
        "--data",
        folder,
        "--out",
        tmp_path / "runs",
        check=False,
        timeout=60,
        env={"CIFARLAB_CACHE": str(tmp_path / "c")},
    )
    assert_one_line_error(proc, "data_batch_2 is not a regular file")


# --- 13-15. flags and options: one line, bounded, before any folder ---------------------------------------


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--model-arg", "num_classes=5"], "num_classes is set by the data set's classes"),
        (["--model", "fastnet", "--model-arg", "width=Infinity"], "cannot be built with width=inf"),
        (["--model", "fastnet", "--model-arg", "width=-1"], "option width=-1 must be a positive finite size"),
        (["--model", "resnet20", "--model-arg", "width=0"], "width must be a positive integer, got 0"),
        (["--model-arg", "dropout=1.0"], "option dropout=1.0 must be a probability in [0, 1)"),
        (["--seed", "99999999999999999999"], "--seed must be a whole number from 0 to 2**63-1"),
        (["--seed", "-1"], "--seed must be a whole number from 0 to 2**63-1"),
        (["--split-seed", "-3"], "--split-seed must be a whole number"),
        (["--momentum", "-1"], "--momentum must be in [0, 1)"),
        (["--momentum", "nan"], "--momentum must be in [0, 1)"),
        (["--threads", "10000"], "--threads must be 0 (torch's default) to"),
    ],
)
def test_bad_flags_are_one_line_and_leave_no_folder(fake_folder, tmp_path, flags, says):
    base = [a for a in TINY if a not in ("--epochs", "1")] if "--time-budget" in flags else TINY
    args = [*base, *flags] if "--model" not in flags else [*base[2:], *flags]
    proc = cli_in_process("train", *args, "--data", fake_folder, "--out", tmp_path / "runs")
    assert_one_line_error(proc, says)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "budget, says", [("5m5m", "expects a duration such as 10m"), ("99999999999999999999h", "is at most 30 days")]
)
def test_a_time_budget_is_parsed_strictly(fake_folder, tmp_path, budget, says):
    proc = cli("train", "--model", "softmax", "--time-budget", budget, "--out", tmp_path / "runs", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"argument --time-budget: --time-budget {says}" in proc.stderr and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--batch-size", "0"], "--batch-size must be a positive whole number"),
        (["--batch-size", "-1"], "--batch-size must be a positive whole number"),
        (["--seed", "-1"], "--seed must be a whole number from 0"),
    ],
)
def test_robustness_numbers_are_one_line(tiny_run, tmp_path, flags, says):
    run = _copy_run(tiny_run, tmp_path / "run")
    proc = cli_in_process("robustness", run, "--corruptions", "fog", "--severities", "1", *flags)
    assert_one_line_error(proc, says)
    assert not (run / "robustness.json").exists()


@pytest.mark.parametrize("command", ["report", "compare", "evaluate"])
def test_a_full_disk_is_one_line_in_every_command(evaluated_run, fake_folder, tmp_path, monkeypatch, command):
    run = _copy_run(evaluated_run, tmp_path / "run")
    _no_space_for(monkeypatch)
    args = {"report": [run], "compare": [run, "--out", tmp_path / "cmp.json"], "evaluate": [run, "--data", fake_folder]}
    assert_one_line_error(cli_in_process(command, *args[command]), "No space left on device", "free some space")
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
