"""The official archive: downloaded with its checksum, into the cache folder, and extracted safely.

- :func:`download` streams to a temporary file in the destination folder while computing the md5, and
  renames it into place only when complete and verified: the final path never holds a partial file.
- :func:`safe_extract` refuses any member that is not a plain file or folder or that would land outside
  the target, checking them all before writing anything; tarfile's ``filter='data'`` is a second line of
  defence behind those checks.

Where the data set is looked for, and how it is parsed and split, is cifar.py's.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..core.errors import DataError
from ..core.fileio import new_temp
from ..core.jupyter import progress_bar

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
_SOURCES = "pass the archive (cifar-10-python.tar.gz), a cifar-10-batches-py folder, or a folder holding either"
_CHUNK = 1 << 20  # download/hash block size: large enough to be fast, small enough for a smooth bar
_TIMEOUT_S = 60  # per socket operation; a stalled server fails instead of hanging forever
_STALE_S = 3600  # temp files/folders older than this belong to a crashed process and are removed


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------


def _one_line(text: object, limit: int = 200) -> str:
    """Squash an exception's text to one short line: errors and warnings must stay one line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _md5_file(path: Path) -> str:
    """The md5 of a file, read in blocks (the archive is 170 MB)."""
    digest = hashlib.md5(usedforsecurity=False)  # an integrity check, not security: FIPS builds allow it
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _short_hash(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def _remove_stale(folder: Path, pattern: str) -> None:
    """Delete leftovers of crashed runs (temp files/folders matching ``pattern``) older than an hour.

    Younger ones may belong to a process that is still working, so they are left alone.
    """
    now = time.time()
    for path in folder.glob(pattern):
        with contextlib.suppress(OSError):
            if now - path.lstat().st_mtime > _STALE_S:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink()


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"cannot create folder {folder} ({_one_line(e.strerror or e)}); set CIFARLAB_CACHE to a writable folder"
        ) from None


def _cache_root(cache_dir: Path | None) -> Path:
    """``cache_dir`` or the default, made absolute so every path we return or record is absolute."""
    return (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()).absolute()


def default_cache_dir() -> Path:
    """The cache folder: ``$CIFARLAB_CACHE`` if set (and not empty), else ``~/.cache/cifarlab``."""
    env = os.environ.get("CIFARLAB_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cifarlab"


# ---------------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------------


def download(url: str, dest: Path, md5: str | None = OFFICIAL_MD5, progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, verifying ``md5`` (skip the check with ``None``); return ``dest``.

    The bytes go to a temporary ``<dest name>.*.part`` file in ``dest``'s folder (the same file system,
    so the final ``os.replace`` is atomic), which is renamed to ``dest`` only when every byte arrived and
    the md5 matches; on any failure it is deleted and a :class:`DataError` says what happened. The
    progress bar (bytes, on stderr) is shown unless ``progress`` is false.
    """
    _download(url, Path(dest), md5, progress)
    return Path(dest)


def _download(url: str, dest: Path, md5: str | None, progress: bool) -> str:
    """:func:`download`, returning the md5 of the downloaded file (so it need not be computed again)."""
    _mkdir(dest.parent)
    _remove_stale(dest.parent, f".{dest.name}.*.part")
    try:
        tmp = new_temp(dest, suffix=".part")
    except OSError as e:
        raise DataError(
            f"cannot write to {dest.parent} ({_one_line(e.strerror or e)}); set CIFARLAB_CACHE to a writable folder"
        ) from None
    done = False
    try:
        with open(tmp, "wb") as out:
            digest, received, total = _stream(url, out, progress, dest.name)
        if total is not None and received < total:
            # urllib's read() returns b"" when the server closes early instead of raising, so a short
            # file is only noticed by comparing with Content-Length.
            raise DataError(f"download of {url} interrupted after {received} of {total} bytes; run again to retry")
        got = digest.hexdigest()
        if md5 is not None and got.lower() != md5.lower():
            raise DataError(
                f"downloaded file has md5 {got}, expected {md5}: corrupt download or wrong mirror; "
                "run again or pass --data with a file you trust"
            )
        os.replace(tmp, dest)
        done = True
        return got
    except OSError as e:  # writing the temp file or renaming it (disk full, permissions)
        raise DataError(
            f"cannot write {dest} ({_one_line(e.strerror or e)}); free some disk space or set "
            "CIFARLAB_CACHE to another folder"
        ) from None
    finally:
        if not done:  # also on KeyboardInterrupt: never leave a partial file behind
            with contextlib.suppress(OSError):
                tmp.unlink()


def _stream(url: str, out: Any, progress: bool, label: str) -> tuple[Any, int, int | None]:
    """Copy ``url`` into the open file ``out``; return (md5 object, bytes received, Content-Length)."""
    request = urllib.request.Request(url, headers={"User-Agent": "cifarlab"})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # noqa: S310 (http(s)/file by design)
    except urllib.error.HTTPError as e:
        raise DataError(
            f"cannot download {url}: HTTP {e.code} {_one_line(e.reason)}; check the URL "
            "(CIFARLAB_URL) or pass --data PATH"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        reason = _one_line(getattr(e, "reason", None) or e)
        raise DataError(f"cannot download {url}: {reason}; check your network or pass --data PATH") from None
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.strip().isdigit() else None
        with progress_bar(  # tqdm's bar; the notebook widget in Jupyter
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"downloading {label}",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.HTTPException, OSError) as e:  # reset, IncompleteRead, timeout
                    of = f"{total}" if total is not None else "an unknown number of"
                    raise DataError(
                        f"download of {url} interrupted after {received} of {of} bytes "
                        f"({_one_line(e) or type(e).__name__}); run again to retry"
                    ) from None
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    return digest, received, total


# ---------------------------------------------------------------------------------------------------
# Safe extraction
# ---------------------------------------------------------------------------------------------------


def _member_problem(member: tarfile.TarInfo, root: str) -> str | None:
    """Why ``member`` must not be extracted into ``root``, or None if it is a harmless file or folder."""
    if not (member.isreg() or member.isdir()):
        if member.issym():
            kind = f"a symlink (to {member.linkname!r})"
        elif member.islnk():
            kind = f"a hard link (to {member.linkname!r})"
        elif member.ischr() or member.isblk():
            kind = "a device file"
        elif member.isfifo():
            kind = "a fifo"
        else:
            kind = f"of tar type {member.type!r}"
        return f"is {kind}; only regular files and folders are allowed"
    name = member.name
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or os.path.isabs(name):
        return "has an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "contains '..'"
    landing = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, landing]) != root:
        return "would land outside the target folder"
    return None


def _check_members(archive: Path, members: list[tarfile.TarInfo], target: Path) -> None:
    """Refuse the archive at its first unsafe member, or when it holds no cifar-10-batches-py folder."""
    root = os.path.realpath(target)
    for member in members:
        problem = _member_problem(member, root)
        if problem:
            raise DataError(
                f"refusing to extract {archive}: member {member.name!r} {problem}; "
                "this is not a genuine CIFAR-10 archive: delete it and download again"
            )
    tops = sorted({PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts})
    if FOLDER_NAME not in tops:
        found = ", ".join(tops[:5]) or "nothing"
        raise DataError(
            f"{archive} has no {FOLDER_NAME} folder (it holds: {found}); it is not the "
            "CIFAR-10 python archive: pass cifar-10-python.tar.gz"
        )


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a CIFAR-10 gzip tar ``archive`` into ``target``; return ``target/cifar-10-batches-py``.

    Every member is checked before anything is written: absolute names, ``..``, names landing outside
    ``target``, and anything but regular files and folders (symlinks, hard links, devices, fifos) make
    it refuse the whole archive with a :class:`DataError` naming the member. The archive must contain a
    ``cifar-10-batches-py`` folder. Extraction goes to a temporary folder inside ``target`` and the
    finished ``cifar-10-batches-py`` is then renamed into place, so a crash never leaves a half-written
    folder under that name. If ``target`` already holds a ``cifar-10-batches-py`` when the rename
    happens (another process extracted the same archive at the same moment), that one is kept.
    """
    archive, target = Path(archive), Path(target)
    _mkdir(target)
    _remove_stale(target, ".extract-*")
    final = target / FOLDER_NAME
    try:
        f = open(archive, "rb")  # noqa: SIM115 (closed below; opened apart to tell "unreadable" from "corrupt")
    except OSError as e:
        raise DataError(f"cannot read {archive} ({_one_line(e.strerror or e)}); {_SOURCES}") from None
    tmp: Path | None = None
    try:
        with f, tarfile.open(fileobj=f, mode="r:gz") as tar:
            members = tar.getmembers()  # reads the whole archive: truncation shows up here
            _check_members(archive, members, target)
            tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
            # Only our folder is extracted; the checks above already vetted every name, and the 'data'
            # filter (Python >= 3.11.4) re-checks paths, links and modes as a second line of defence.
            wanted = [m for m in members if PurePosixPath(m.name).parts[:1] == (FOLDER_NAME,)]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=wanted, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(tmp, members=wanted)
        if not (tmp / FOLDER_NAME).is_dir():
            raise DataError(
                f"{archive}: {FOLDER_NAME} is a file, not a folder; it is not the CIFAR-10 python "
                "archive: pass cifar-10-python.tar.gz"
            )
        try:
            os.rename(tmp / FOLDER_NAME, final)
        except OSError:
            if not final.is_dir():  # a real failure, not a concurrent extraction that won the race
                raise
        return final
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise DataError(
            f"{archive} is truncated or not a gzip tar archive ({_one_line(e)}); delete it and download again"
        ) from None
    except OSError as e:
        # gzip's own errors (BadGzipFile) are OSErrors: tell them apart from a failing disk by errno.
        if e.errno is None:
            raise DataError(
                f"{archive} is truncated or not a gzip tar archive ({_one_line(e)}); delete it and download again"
            ) from None
        raise DataError(
            f"cannot extract {archive} into {target} ({_one_line(e.strerror or e)}); free some "
            "disk space or set CIFARLAB_CACHE to another folder"
        ) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
