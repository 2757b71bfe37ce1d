"""Find, download, extract, validate, parse and split CIFAR-10; no DataLoader, just tensors.

The pipeline, and why each step is shaped the way it is:

- :func:`locate` finds the data set: ``data`` argument -> ``$CIFARLAB_DATA`` -> the cache folder ->
  download. Each place may hold the archive, its extracted ``cifar-10-batches-py`` folder, or a folder
  holding either, because that is how people keep it.
- Archives are extracted into the cache, never next to the archive (which may sit on a read-only share),
  under a key of the archive's path, size and modification time, so a changed archive is re-extracted
  and an unchanged one never is. Extraction goes to a temporary folder that is renamed into place, so a
  crash never leaves a half-extracted folder under the final name.
- :func:`safe_extract` refuses any member that is not a plain file or folder or that would land outside
  the target, checking them all before writing anything; tarfile's ``filter='data'`` is a second line of
  defence behind those checks.
- :func:`download` streams to a temporary file in the destination folder while computing the md5, and
  renames it into place only when complete and verified: the final path never holds a partial file.
- Parsing validates every file (shape, dtype, labels) with one-line errors naming the file, and uses a
  restricted unpickler: a pickle can run arbitrary code, and a CIFAR-10 batch needs nothing beyond numpy
  arrays. The parsed tensors are cached with ``torch.save`` so a second load takes a fraction of a second.
- :func:`make_splits` selects the training rows and holds out a seeded, class-stratified validation split.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .errors import ConfigError, DataError, warn
from .fileio import new_temp

__all__ = [
    "ARCHIVE_NAME",
    "CLASSES",
    "FOLDER_NAME",
    "OFFICIAL_MD5",
    "OFFICIAL_URL",
    "CifarArrays",
    "Split",
    "Splits",
    "default_cache_dir",
    "download",
    "load_cifar10",
    "locate",
    "make_splits",
    "parse_train_batches",
    "safe_extract",
]

OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
FOLDER_NAME = "cifar-10-batches-py"
CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

TRAIN_FILES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
BATCH_FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)
ROWS_PER_BATCH = 10000
PIXELS = 3 * 32 * 32

# Bump when the parsed-cache layout changes, so old cache files are ignored instead of misread.
_PARSED_FORMAT = 1
_CHUNK = 1 << 20  # download/hash block size: large enough to be fast, small enough for a smooth bar
_TIMEOUT_S = 60  # per socket operation; a stalled server fails instead of hanging forever
_STALE_S = 3600  # temp files/folders older than this belong to a crashed process and are removed
_DAMAGED = "the file is damaged: delete it (and the archive it came from) and download again"
_SOURCES = "pass the archive (cifar-10-python.tar.gz), a cifar-10-batches-py folder, or a folder holding either"


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
        with tqdm(
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


# ---------------------------------------------------------------------------------------------------
# Locating the data
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """Where the data was found: the batches folder, and the archive it came from (if any)."""

    folder: Path
    archive: Path | None = None
    md5: str | None = None  # md5 of the archive when already known (computed while downloading)

    @property
    def source(self) -> Path:
        return self.archive if self.archive is not None else self.folder


def _missing_files(folder: Path) -> list[str]:
    return [name for name in BATCH_FILES if not (folder / name).is_file()]


def _looks_like_batches(folder: Path) -> bool:
    """A folder holding any of the batch files is meant to be a batches folder (whatever its name)."""
    return any((folder / name).exists() for name in BATCH_FILES)


def _checked_batches(folder: Path, what: str) -> Path:
    missing = _missing_files(folder)
    if missing:
        raise DataError(
            f"{folder} (from {what}) is missing {', '.join(missing)}; restore the files or point "
            "it at the cifar-10-python.tar.gz archive instead"
        )
    return folder.resolve()


def _from_path(path: Path, what: str, cache: Path) -> _Found:
    """Resolve a user-given location (``what`` names where it came from: ``--data`` or ``CIFARLAB_DATA``)."""
    if not path.exists():
        raise DataError(f"{what} {path} does not exist; {_SOURCES}")
    if path.is_file():
        if path.name in BATCH_FILES:
            raise DataError(f"{what} {path} is a single batch file; pass the folder that holds it instead")
        return _from_archive(path, cache)
    if _looks_like_batches(path):
        return _Found(_checked_batches(path, what))
    inner = path / FOLDER_NAME
    if inner.is_dir():
        return _Found(_checked_batches(inner, what))
    archive = path / ARCHIVE_NAME
    if archive.is_file():
        return _from_archive(archive, cache)
    raise DataError(f"{what} {path} holds neither {FOLDER_NAME}/ nor {ARCHIVE_NAME}; {_SOURCES}")


def _extraction_key(archive: Path) -> str:
    st = archive.stat()
    return _short_hash(archive.resolve(), st.st_size, st.st_mtime_ns)


def _from_archive(archive: Path, cache: Path, md5: str | None = None) -> _Found:
    """The extracted folder of ``archive`` in the cache, extracting it first if needed."""
    archive = archive.resolve()
    extracted = cache / "extracted"
    key_dir = extracted / _extraction_key(archive)
    folder = key_dir / FOLDER_NAME
    if folder.is_dir() and not _missing_files(folder):
        return _Found(folder, archive, md5)
    if folder.exists():  # damaged or tampered with: extraction is atomic, so this was not us mid-way
        shutil.rmtree(folder, ignore_errors=True)
    try:
        folder = safe_extract(archive, key_dir)
        missing = _missing_files(folder)
        if missing:
            raise DataError(
                f"{archive} lacks {FOLDER_NAME}/{', '.join(missing)}; it is incomplete: delete it and download again"
            )
    except DataError:
        shutil.rmtree(key_dir, ignore_errors=True)  # a refused archive leaves nothing in the cache
        raise
    (key_dir / "ARCHIVE").write_text(str(archive))
    _prune_old_extractions(extracted, key_dir, archive, cache)
    return _Found(folder, archive, md5)


def _discard_extraction(folder: Path, cache: Path) -> None:
    """Delete ``folder``'s extraction from the cache, if that is where it lives (never a user's folder)."""
    key_dir = folder.resolve().parent
    if key_dir.parent == (cache / "extracted").resolve():
        shutil.rmtree(key_dir, ignore_errors=True)


def _prune_old_extractions(extracted: Path, keep: Path, archive: Path, cache: Path) -> None:
    """Delete earlier extractions of the same archive path (it was replaced, e.g. by a new download).

    Each extraction is ~180 MB; without this, every re-download would leave another copy behind. Their
    parsed-cache files go too, found by recomputing their keys before the folders are deleted.
    """
    for other in extracted.iterdir():
        if other == keep:
            continue
        with contextlib.suppress(OSError):
            if (other / "ARCHIVE").read_text() != str(archive):
                continue
            if (other / FOLDER_NAME).is_dir():
                with contextlib.suppress(OSError):
                    (cache / "parsed" / f"{_parse_key(other / FOLDER_NAME)}.pt").unlink()
            shutil.rmtree(other, ignore_errors=True)


def _locate(
    data: str | Path | None, cache: Path, offline: bool, url: str | None, md5: str | None, progress: bool
) -> _Found:
    if data is not None and str(data).strip():
        return _from_path(Path(data).expanduser(), "--data", cache)
    env = os.environ.get("CIFARLAB_DATA", "").strip()
    if env:
        return _from_path(Path(env).expanduser(), "CIFARLAB_DATA", cache)
    cached_folder, cached_archive = cache / FOLDER_NAME, cache / ARCHIVE_NAME
    if cached_folder.is_dir() and not _missing_files(cached_folder):
        return _Found(cached_folder.resolve())
    if cached_archive.is_file():
        return _from_archive(cached_archive, cache)
    if offline:
        raise DataError(
            f"CIFAR-10 not found in {cached_folder} or {cached_archive} and --offline forbids "
            "downloading; pass --data PATH or set CIFARLAB_DATA"
        )
    source = url or os.environ.get("CIFARLAB_URL", "").strip() or OFFICIAL_URL
    got = _download(source, cached_archive, md5, progress)
    return _from_archive(cached_archive, cache, md5=got)


def locate(
    data: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    offline: bool = False,
    url: str | None = None,
    md5: str | None = OFFICIAL_MD5,
    progress: bool = True,
) -> Path:
    """Return a ``cifar-10-batches-py`` folder holding all seven files, extracting/downloading as needed.

    Looks at, in order: ``data`` (an archive, a batches folder, or a folder holding either), then
    ``$CIFARLAB_DATA`` (same forms), then the cache (``<cache>/cifar-10-batches-py`` or
    ``<cache>/cifar-10-python.tar.gz``), and finally downloads ``url`` (default: ``$CIFARLAB_URL``, else
    the official URL) into ``<cache>/cifar-10-python.tar.gz``, checking ``md5`` (``None``: no check).
    ``offline=True`` forbids the download. Archives are extracted into ``<cache>/extracted/<key>/``.
    Only file presence is checked here; :func:`load_cifar10` validates the contents.
    """
    cache = _cache_root(cache_dir)
    return _locate(data, cache, offline, url, md5, progress).folder


# ---------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------

# The only globals a CIFAR-10 pickle needs: numpy array reconstruction (Python 2 numpy's module path,
# numpy 2's, and protocol-5 buffers) and the _codecs.encode that Python 3's protocol-2 pickles use for bytes.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that only builds numpy arrays and plain containers.

    Unpickling an arbitrary file can run any code it names; downloaded data should not get that power.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refers to {module}.{name}, which a CIFAR-10 batch never contains")


def _unpickle(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            return _BatchUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path} is missing; {_DAMAGED}") from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken pickle can raise almost anything
        detail = _one_line(f"{type(e).__name__}: {e}")
        raise DataError(f"{path} is not a valid CIFAR-10 pickle ({detail}); {_DAMAGED}") from None


def _entry(obj: dict[Any, Any], key: str) -> Any:
    """``obj[b'key']``, also accepting a ``str`` key (a batch re-saved by Python 3)."""
    if key.encode() in obj:
        return obj[key.encode()]
    return obj.get(key)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load and validate one batch file: (uint8 (10000, 3072) pixels, int64 (10000,) labels)."""
    obj = _unpickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a {type(obj).__name__}, expected a dict with b'data' and b'labels'; {_DAMAGED}")
    data, labels = _entry(obj, "data"), _entry(obj, "labels")
    for key, value in (("data", data), ("labels", labels)):
        if value is None:
            raise DataError(f"{path} has no b'{key}' entry; {_DAMAGED}")
    if not isinstance(data, np.ndarray):
        raise DataError(f"{path}: b'data' is a {type(data).__name__}, expected a uint8 numpy array; {_DAMAGED}")
    if data.dtype != np.uint8:
        raise DataError(f"{path}: b'data' has dtype {data.dtype}, expected uint8; {_DAMAGED}")
    if data.shape != (ROWS_PER_BATCH, PIXELS):
        raise DataError(
            f"{path}: b'data' has shape {tuple(data.shape)}, expected ({ROWS_PER_BATCH}, {PIXELS}); {_DAMAGED}"
        )
    try:
        y = np.asarray(labels)
    except Exception:  # noqa: BLE001 - ragged or exotic objects
        y = np.asarray([], dtype=object)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise DataError(f"{path}: b'labels' is not a list of integers; {_DAMAGED}")
    if len(y) != ROWS_PER_BATCH:
        raise DataError(f"{path}: b'labels' has {len(y)} entries, expected {ROWS_PER_BATCH}; {_DAMAGED}")
    bad = np.flatnonzero((y < 0) | (y > 9))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{path}: label {int(y[row])} at row {row} is outside 0..9; {_DAMAGED}")
    return np.ascontiguousarray(data), y.astype(np.int64)


def _read_meta(path: Path) -> tuple[str, ...]:
    obj = _unpickle(path)
    names = _entry(obj, "label_names") if isinstance(obj, dict) else None
    if not isinstance(names, list | tuple):
        raise DataError(f"{path} has no b'label_names' list; {_DAMAGED}")
    if len(names) != 10:
        raise DataError(f"{path}: b'label_names' has {len(names)} entries, expected 10; {_DAMAGED}")
    if not all(isinstance(n, bytes | str) for n in names):
        raise DataError(f"{path}: b'label_names' holds non-strings; {_DAMAGED}")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else n for n in names)


def _parse_folder(folder: Path) -> dict[str, Any]:
    """Parse and validate all seven files into CPU tensors (NCHW uint8 images, int64 labels)."""
    classes = _read_meta(folder / META_FILE)
    xs, ys = [], []
    for name in TRAIN_FILES:
        x, y = _read_batch(folder / name)
        xs.append(x)
        ys.append(y)
    test_x, test_y = _read_batch(folder / TEST_FILE)
    batch_ids = np.repeat(np.arange(1, 6, dtype=np.int64), ROWS_PER_BATCH)
    return {
        # Each row is 1024 R, then 1024 G, then 1024 B values, each plane row-major: exactly NCHW.
        "train_x": torch.from_numpy(np.concatenate(xs).reshape(-1, 3, 32, 32)),
        "train_y": torch.from_numpy(np.concatenate(ys)),
        "train_batch": torch.from_numpy(batch_ids),
        "test_x": torch.from_numpy(test_x.reshape(-1, 3, 32, 32)),
        "test_y": torch.from_numpy(test_y),
        "classes": list(classes),
    }


# ---------------------------------------------------------------------------------------------------
# Parsed cache
# ---------------------------------------------------------------------------------------------------

_EXPECTED = {
    "train_x": (torch.uint8, (5 * ROWS_PER_BATCH, 3, 32, 32)),
    "train_y": (torch.int64, (5 * ROWS_PER_BATCH,)),
    "train_batch": (torch.int64, (5 * ROWS_PER_BATCH,)),
    "test_x": (torch.uint8, (ROWS_PER_BATCH, 3, 32, 32)),
    "test_y": (torch.int64, (ROWS_PER_BATCH,)),
}


def _parse_key(folder: Path) -> str:
    """Key of a parse: the folder's real path plus size and mtime of every file (any change re-parses)."""
    parts: list[object] = [_PARSED_FORMAT, folder.resolve()]
    for name in BATCH_FILES:
        st = (folder / name).stat()
        parts += [name, st.st_size, st.st_mtime_ns]
    return _short_hash(*parts)


def _load_parsed(path: Path) -> dict[str, Any] | None:
    """The cached parse at ``path``, or None if absent, unreadable or not what we wrote (then re-parse)."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any damage to a cache file just means "parse again"
        return None
    if not isinstance(obj, dict) or obj.get("format") != _PARSED_FORMAT:
        return None
    for key, (dtype, shape) in _EXPECTED.items():
        t = obj.get(key)
        if not isinstance(t, torch.Tensor) or t.dtype != dtype or tuple(t.shape) != shape:
            return None
    classes = obj.get("classes")
    if not isinstance(classes, list) or len(classes) != 10 or not all(isinstance(c, str) for c in classes):
        return None
    if not isinstance(obj.get("notice"), str):
        return None
    return obj


def _save_parsed(path: Path, obj: dict[str, Any]) -> None:
    """Write the parse atomically (temp file + os.replace); failing to cache only costs speed later."""
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path.parent, ".*.pt.*.tmp")
        tmp = new_temp(path)
        with open(tmp, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        warn(
            f"cannot write the parsed-data cache {path} ({_one_line(e.strerror or e)}); the next load "
            "will parse the data again"
        )
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _official_notice(found: _Found) -> str:
    """The warning for an archive that is not the official one ("" if official, or no archive)."""
    if found.archive is None:
        return ""
    digest = found.md5 or _md5_file(found.archive)
    if digest.lower() == OFFICIAL_MD5:
        return ""
    return (
        f"{found.archive} is not the official CIFAR-10 archive (md5 {digest}); using it because its contents validate"
    )


# ---------------------------------------------------------------------------------------------------
# Public loading API
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CifarArrays:
    """The whole parsed data set as CPU tensors.

    ``train_x``/``test_x`` are uint8 NCHW (R, G, B planes); labels are int64; ``train_batch`` says which
    ``data_batch_k`` (1..5) each training row came from; ``source`` is the archive or folder it was read
    from (recorded in run configs).
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    train_batch: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    source: str


def load_cifar10(
    data: str | Path | None = None,
    *,
    cache_dir: Path | None = None,
    offline: bool = False,
    url: str | None = None,
    md5: str | None = OFFICIAL_MD5,
    progress: bool = True,
) -> CifarArrays:
    """Locate (see :func:`locate`), validate and parse CIFAR-10; cached, so repeat loads are fast.

    The first parse of a folder is saved to ``<cache>/parsed/<key>.pt``; later loads of the unchanged
    folder read that instead (well under a second). An archive whose md5 is not the official one is
    accepted once its contents validate, with one warning (on every load, so no run forgets it).
    """
    cache = _cache_root(cache_dir)
    found = _locate(data, cache, offline, url, md5, progress)
    cache_file = cache / "parsed" / f"{_parse_key(found.folder)}.pt"
    parsed = _load_parsed(cache_file)
    if parsed is None:
        try:
            parsed = _parse_folder(found.folder)
        except DataError:
            _discard_extraction(found.folder, cache)  # ~180 MB of a refused archive: not kept in the cache
            raise
        # Computed only on a cache miss (hashing 170 MB costs ~0.3 s); the verdict is cached with the data.
        parsed["notice"] = _official_notice(found)
        parsed["format"] = _PARSED_FORMAT
        _save_parsed(cache_file, parsed)
    if parsed["notice"]:
        warn(parsed["notice"])
    return CifarArrays(
        train_x=parsed["train_x"],
        train_y=parsed["train_y"],
        train_batch=parsed["train_batch"],
        test_x=parsed["test_x"],
        test_y=parsed["test_y"],
        classes=tuple(parsed["classes"]),
        source=str(found.source),
    )


# ---------------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Images (uint8 N,3,32,32) and their labels (int64 N)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"Split has {self.x.shape[0]} images but {self.y.shape[0]} labels")

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Splits:
    """Training, validation (None when ``val_size`` is 0) and test splits."""

    train: Split
    val: Split | None
    test: Split
    classes: tuple[str, ...]


def _largest_remainder(counts: Sequence[int], total: int) -> list[int]:
    """Split ``total`` proportionally to ``counts`` into integers summing exactly to ``total``.

    Each share gets the floor of its exact quota, and the leftover units go to the largest fractional
    parts (ties: lower class index). Integer arithmetic, so the result is exact and platform-independent.
    """
    n = sum(counts)
    shares = [total * c // n for c in counts]
    remainders = [total * c % n for c in counts]
    for i in sorted(range(len(counts)), key=lambda i: (-remainders[i], i))[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _check_batches(train_batches: Iterable[int]) -> tuple[int, ...]:
    batches = tuple(train_batches)
    if not batches or any(
        isinstance(b, bool) or not isinstance(b, int | np.integer) or not 1 <= b <= 5 for b in batches
    ):
        raise ConfigError(f"--train-batches {batches} must be numbers 1..5, e.g. --train-batches 1,2")
    return tuple(sorted({int(b) for b in batches}))


def make_splits(
    arrays: CifarArrays,
    *,
    train_batches: Sequence[int] = (1, 2, 3, 4, 5),
    train_limit: int | None = None,
    val_size: int = 5000,
    split_seed: int = 0,
) -> Splits:
    """Select training rows and hold out a seeded, class-stratified validation split.

    1. Keep the training rows from the ``data_batch_k`` files in ``train_batches``, in their original order.
    2. With ``train_limit``, keep the first ``train_limit`` of them. Deterministic on purpose, like the
       notebook taking ``data_batch_1``: the same limit always means the same images, whatever the seed.
    3. Hold out exactly ``val_size`` of those as validation: per class, a share proportional to the
       class's frequency (largest-remainder rounding, so shares sum to ``val_size``), the rows within a
       class drawn by ``torch.Generator().manual_seed(split_seed)``. Train and val keep the original order.
    """
    batches = _check_batches(train_batches)
    if train_limit is not None and train_limit <= 0:
        raise ConfigError(f"--train-limit must be a positive number of images, got {train_limit}")
    if val_size < 0:
        raise ConfigError(f"--val-size must be 0 or more, got {val_size}")
    selected = torch.isin(arrays.train_batch, torch.tensor(batches, dtype=arrays.train_batch.dtype))
    rows = selected.nonzero().flatten()  # ascending: the original order
    if train_limit is not None:
        if train_limit > len(rows):
            warn(f"--train-limit {train_limit} is more than the {len(rows)} selected training images; using all")
        rows = rows[:train_limit]
    n = len(rows)
    if val_size >= n:
        raise ConfigError(
            f"--val-size {val_size} leaves no training images (only {n} selected); lower --val-size or select more data"
        )
    test = Split(arrays.test_x, arrays.test_y)
    if val_size == 0:
        return Splits(Split(arrays.train_x[rows], arrays.train_y[rows]), None, test, arrays.classes)

    labels = arrays.train_y[rows]
    num_classes = max(len(arrays.classes), int(labels.max()) + 1)
    counts = torch.bincount(labels, minlength=num_classes).tolist()
    shares = _largest_remainder(counts, val_size)
    generator = torch.Generator().manual_seed(split_seed)
    picked = []
    for cls, share in enumerate(shares):
        if share == 0:
            continue
        members = (labels == cls).nonzero().flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:share]])
    is_val = torch.zeros(n, dtype=torch.bool)
    is_val[torch.cat(picked)] = True
    train_rows, val_rows = rows[~is_val], rows[is_val]  # boolean masks keep the original order
    return Splits(
        train=Split(arrays.train_x[train_rows], arrays.train_y[train_rows]),
        val=Split(arrays.train_x[val_rows], arrays.train_y[val_rows]),
        test=test,
        classes=arrays.classes,
    )


def parse_train_batches(text: str) -> tuple[int, ...]:
    """Parse ``--train-batches``: ``"1,2"`` -> (1, 2), ``"1-3"`` -> (1, 2, 3), ``"1,4-5"``, ``"all"``.

    The result is sorted without duplicates (the rows are used in file order anyway). Anything else,
    or a number outside 1..5, is a :class:`ConfigError`.
    """
    hint = "use numbers 1..5 like 1,2 or a range like 1-3"
    cleaned = text.strip().lower()
    if cleaned == "all":
        return (1, 2, 3, 4, 5)
    chosen: set[int] = set()
    for part in cleaned.split(","):
        part = part.strip()
        low_text, dash, high_text = part.partition("-")
        if not (low_text.isdigit() and (not dash or high_text.isdigit())):
            raise ConfigError(f"--train-batches '{text}': '{part}' is not a number or range; {hint}")
        low, high = int(low_text), int(high_text) if dash else int(low_text)
        if low > high:
            raise ConfigError(f"--train-batches '{text}': range {part} runs backwards; {hint}")
        if low < 1 or high > 5:
            bad = low if low < 1 else high
            raise ConfigError(f"--train-batches '{text}': there is no data_batch_{bad}; {hint}")
        chosen.update(range(low, high + 1))
    return tuple(sorted(chosen))
