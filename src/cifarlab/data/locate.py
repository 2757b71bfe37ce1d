"""Finding CIFAR-10: the data argument, then $CIFARLAB_DATA, then the cache folder, then the download.

Each place may hold the archive, its extracted cifar-10-batches-py folder, or a folder holding either,
because that is how people keep it. Archives are extracted into the cache, never next to the archive
(which may sit on a read-only share), under a key of the archive's path, size and modification time,
so a changed archive is re-extracted and an unchanged one never is. Extraction goes to a temporary
folder renamed into place, so a crash never leaves a half-extracted folder under the final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import DataError
from . import download as dl
from .download import (
    _SOURCES,
    ARCHIVE_NAME,
    FOLDER_NAME,
    OFFICIAL_MD5,
    OFFICIAL_URL,
    safe_extract,
)

TRAIN_FILES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
BATCH_FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)


# ---------------------------------------------------------------------------------------------------
# Locating the data
# ---------------------------------------------------------------------------------------------------


# Bump when the parsed-cache layout changes, so old cache files are ignored instead of misread.
_PARSED_FORMAT = 1


def _parse_key(folder: Path) -> str:
    """Key of a parse: the folder's real path plus size and mtime of every file (any change re-parses)."""
    parts: list[object] = [_PARSED_FORMAT, folder.resolve()]
    for name in BATCH_FILES:
        st = (folder / name).stat()
        parts += [name, st.st_size, st.st_mtime_ns]
    return dl._short_hash(*parts)


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
    odd = [name for name in missing if (folder / name).exists()]  # a FIFO, device or folder of that name
    if odd:
        raise DataError(f"{folder / odd[0]} is not a regular file; replace it with the batch file itself")
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
    return dl._short_hash(archive.resolve(), st.st_size, st.st_mtime_ns)


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
    got = dl._download(source, cached_archive, md5, progress)
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
    cache = dl._cache_root(cache_dir)
    return _locate(data, cache, offline, url, md5, progress).folder
