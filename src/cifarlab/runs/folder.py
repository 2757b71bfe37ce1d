"""A run folder's life: its name, creating it without clobbering another, the lock that keeps a second
process out, the output paths no command may overwrite, and removing a folder a failed start left empty."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..config.checks import check_name
from ..config.schema import ExperimentConfig
from ..core.errors import RunError
from ..core.fileio import TEMP_SUFFIX, open_regular, read_text

# What cifarlab writes into a run folder; no command's --out may replace one of them.
RUN_FILES = frozenset(
    {
        "config.json",
        "metrics.csv",
        "curves.png",
        "model.pt",
        "summary.json",
        "last.pt",
        "best.pt",
        ".lock",
        "report.html",
        "evaluation.json",
        "confusion.png",
        "per_class.png",
        "mistakes.png",
        "reliability.png",
    }
)


def check_output(path: str | Path, force: bool = False) -> Path:
    """Refuse an output path that would destroy something: a run's own file (always), or any existing
    file unless ``force``. Returns the path. Called before any work, so nothing is half-done."""
    path = Path(path)
    folder = path.parent
    if path.name in RUN_FILES and ((folder / "config.json").is_file() or (folder / "model.pt").is_file()):
        raise RunError(f"{path} is a file of the run in {folder}; choose another --out")
    if path.is_dir():
        raise RunError(f"{path} is a folder; pass a file name with --out")
    if path.exists() and not force:
        raise RunError(f"{path} exists; pass --force to replace it, or choose another --out")
    if not folder.is_dir():
        raise RunError(f"cannot write {path}: folder {folder} does not exist")
    return path


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, or raise a RunError
    (read-only, no permission, disk full)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-") as f:
            f.write(bytes(4096))  # a block, not only an inode: a full disk fails here, before any work
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise RunError(
            f"cannot write to {folder} ({e.strerror}); free space, fix its permissions or write elsewhere (--out DIR)"
        ) from None
    return folder


def new_run_dir(out: str | Path, name: str) -> Path:
    """A new, empty run folder ``out/name`` (``name-2``, ``name-3``... if taken); never reuses one."""
    check_name(name)  # one folder name: never a path that climbs out of ``out``
    out = check_writable(out)
    for k in range(1, 10_000):
        candidate = out / (name if k == 1 else f"{name}-{k}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RunError(f"too many runs named '{name}' in {out}; pass another --name")


def remove_if_unused(run_dir: str | Path) -> bool:
    """Remove a new run folder that holds nothing but its lock, temp files and a metrics.csv without
    rows (a run that failed before writing its config, e.g. on a full disk), so no empty shell is left
    behind. True if removed."""
    run_dir = Path(run_dir)

    def unused(p: Path) -> bool:
        if p.name == "metrics.csv":
            return (
                p.is_file() and not p.is_symlink() and p.stat().st_size < 4096 and len(read_text(p).splitlines()) <= 1
            )
        return p.name == ".lock" or p.name.endswith(TEMP_SUFFIX)

    try:
        entries = list(run_dir.iterdir())
        if not all(unused(p) for p in entries):
            return False
        for p in entries:
            p.unlink()
        run_dir.rmdir()
        return True
    except OSError:
        return False


class RunLock:
    """An exclusive lock on a run folder while a process trains into it (``<run>/.lock``, flock).

    Two processes resuming one run would both append epochs to its metrics.csv and overwrite each
    other's checkpoints; the second is refused with the holder's pid and host. The kernel drops the
    lock when its holder dies, so a killed run never leaves its folder locked.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".lock"
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl
        import socket

        # not through a symlink, and only a regular file: a prepared run folder's .lock could point at
        # any file of the user, which the pid line below would overwrite
        fd = open_regular(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunError(
                f"{self.path.parent} is being trained by {holder}; wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def default_run_name(config: ExperimentConfig) -> str:
    """``<model>-<time>``, or ``<model>-<recipe>-<time>`` when the recipe is not the model's own."""
    from ..config.recipes import default_recipe

    own = config.recipe is None or config.recipe == default_recipe(config.model)
    base = config.model if own else f"{config.model}-{config.recipe}"
    return f"{base}-{time.strftime('%Y%m%d-%H%M%S')}"
