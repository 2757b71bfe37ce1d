"""Atomic file writes: the one writer behind every file cifarlab creates or replaces.

A file is written to a temp file beside it (``.<name>.<random>.tmp``), flushed to disk and renamed
over the target with ``os.replace``, so a reader or a crash sees the old file or the new one, never
half of one. The temp file is created with ``O_EXCL`` (a planted symlink of that name is never
followed) and mode 0666 minus the process umask, so run folders shared with other users are readable
as any normal file would be (``tempfile.mkstemp`` would make them 0600).

Files are *opened* through :func:`open_regular`: never through a symlink inside a folder someone else
may have prepared (a run folder), and never a FIFO, device or socket, which could block forever or
stand for something else. It checks the opened descriptor itself (``fstat``), not the path before
opening, which another process could swap in between.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import UnsafeFileError

TEMP_SUFFIX = ".tmp"

_KINDS = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device"), (stat.S_ISSOCK, "socket"))


def open_regular(path: str | Path, flags: int = os.O_RDONLY, mode: int = 0o666, *, follow: bool = False) -> int:
    """``os.open`` that yields only a regular file: a descriptor, or :class:`UnsafeFileError` in one line.

    ``follow=False`` (files inside run folders) refuses a symlink as the last component; ``follow=True``
    (a path the user typed) follows it to a regular file. ``O_NONBLOCK`` keeps a FIFO from blocking
    the open; it is cleared again on a regular file.
    """
    path = Path(path)
    extra = os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags | extra, mode)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow and path.is_symlink():
            raise UnsafeFileError(
                f"{path} is a symbolic link; cifarlab does not follow links inside a run folder: "
                "replace it with the file itself"
            ) from None
        if e.errno == errno.ENXIO:  # O_WRONLY|O_NONBLOCK on a FIFO without a reader
            raise UnsafeFileError(f"{path} is a FIFO, not a regular file; replace it with the file itself") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        what = "a folder" if stat.S_ISDIR(info.st_mode) else f"a {kind}"
        raise UnsafeFileError(f"{path} is {what}, not a regular file; replace it with the file itself")
    os.set_blocking(fd, True)
    return fd


def open_file(path: str | Path, mode: str = "rb", *, follow: bool = False, newline: str | None = None):
    """A Python file object for ``path`` through :func:`open_regular` (modes r, rb, w, a, r+b)."""
    flags = {
        "r": os.O_RDONLY,
        "rb": os.O_RDONLY,
        "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
        "r+b": os.O_RDWR | os.O_CREAT,
    }[mode]
    fd = open_regular(path, flags, follow=follow)
    try:
        return os.fdopen(fd, mode, newline=newline) if "b" not in mode else os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | Path, *, follow: bool = False) -> bytes:
    with open_file(path, "rb", follow=follow) as f:
        return f.read()


def read_text(path: str | Path, *, follow: bool = False) -> str:
    with open_file(path, "r", follow=follow) as f:
        return f.read()


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


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(_jsonable(obj), indent=2, allow_nan=True) + "\n").encode())


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    import torch  # on first use: reading and writing files needs no torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None  # JSON has no NaN; null reads back everywhere
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
