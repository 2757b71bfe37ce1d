"""Atomic file writes: the one writer behind every file cifarlab creates or replaces.

A file is written to a temp file beside it (``.<name>.<random>.tmp``), flushed to disk and renamed
over the target with ``os.replace``, so a reader or a crash sees the old file or the new one, never
half of one. The temp file is created with ``O_EXCL`` (a planted symlink of that name is never
followed) and mode 0666 minus the process umask, so run folders shared with other users are readable
as any normal file would be (``tempfile.mkstemp`` would make them 0600).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def new_temp(path: str | Path, suffix: str = TEMP_SUFFIX) -> Path:
    """Create an empty temp file beside ``path`` (mode 0666 & ~umask) and return its name."""
    path = Path(path)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temp name beside {path}")  # pragma: no cover - 100 collisions of 32 bits


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = TEMP_SUFFIX) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)`` -- ``p`` is replaced by ``tmp`` if the block succeeds.

    For writers that want a file name (matplotlib, torch.onnx); on any error the temp file is removed.
    """
    path = Path(path)
    tmp = new_temp(path, suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` by ``data`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def remove_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files a killed writer left in ``folder`` (only call while nobody writes there)."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        if tmp.is_file() or tmp.is_symlink():
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed
