"""Find, validate, parse and split CIFAR-10; no DataLoader, just tensors.

The pipeline, and why each step is shaped the way it is:

- :func:`locate` finds the data set: ``data`` argument -> ``$CIFARLAB_DATA`` -> the cache folder ->
  download. Each place may hold the archive, its extracted ``cifar-10-batches-py`` folder, or a folder
  holding either, because that is how people keep it.
- Archives are extracted into the cache, never next to the archive (which may sit on a read-only share),
  under a key of the archive's path, size and modification time, so a changed archive is re-extracted
  and an unchanged one never is. Extraction goes to a temporary folder that is renamed into place, so a
  crash never leaves a half-extracted folder under the final name.
- The official archive is downloaded with its md5 and extracted safely by download.py.
- Parsing validates every file (shape, dtype, labels) with one-line errors naming the file, and uses a
  restricted unpickler: a pickle can run arbitrary code, and a CIFAR-10 batch needs nothing beyond numpy
  arrays. The parsed tensors are cached with ``torch.save`` so a second load takes a fraction of a second.
- Splitting into train / validation / test is splits.py's.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import DataError, UnsafeFileError, warn
from ..core.fileio import new_temp, open_file
from . import download as dl
from .download import (
    ARCHIVE_NAME,
    FOLDER_NAME,
    OFFICIAL_MD5,
    OFFICIAL_URL,
    default_cache_dir,
    download,
    safe_extract,
)
from .locate import (
    _PARSED_FORMAT,
    META_FILE,
    TEST_FILE,
    TRAIN_FILES,
    _discard_extraction,
    _Found,
    _locate,
    _parse_key,
    locate,
)

__all__ = [
    "ARCHIVE_NAME",
    "CLASSES",
    "FOLDER_NAME",
    "OFFICIAL_MD5",
    "OFFICIAL_URL",
    "CifarArrays",
    "default_cache_dir",
    "download",
    "load_cifar10",
    "locate",
    "safe_extract",
]

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
ROWS_PER_BATCH = 10000
PIXELS = 3 * 32 * 32

_DAMAGED = "the file is damaged: delete it (and the archive it came from) and download again"


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
        with open_file(path, "rb", follow=True) as f:  # the user's data: a link is fine, a FIFO is not
            return _BatchUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path} is missing; {_DAMAGED}") from None
    except UnsafeFileError as e:
        raise DataError(str(e)) from None
    except OSError as e:  # no permission, a failing disk: the file may be fine, so no advice to delete it
        raise DataError(
            f"cannot read {path} ({e.strerror or type(e).__name__}); check its permissions and disk"
        ) from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken pickle can raise almost anything
        detail = dl._one_line(f"{type(e).__name__}: {e}")
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
        dl._remove_stale(path.parent, ".*.pt.*.tmp")
        tmp = new_temp(path)
        with open(tmp, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        warn(
            f"cannot write the parsed-data cache {path} ({dl._one_line(e.strerror or e)}); the next load "
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
    digest = found.md5 or dl._md5_file(found.archive)
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
    cache = dl._cache_root(cache_dir)
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
