"""Test sets under distribution shift: the official CIFAR-10-C and CIFAR-10.1 files (validated, bounded
before any copy), and CIFAR-10-C's corruptions generated from the test set (cached per generator
version)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..core.fileio import atomic_path
from . import corruptions as C
from .download import default_cache_dir

GENERATOR_VERSION = 1  # bump when a corruption's output changes: old caches are then ignored
TEST_IMAGES = 10_000  # CIFAR-10's test set: a corrupted or shifted set holds at most this many per severity
SHIFT_FILES = ("cifar10.1_v6_data.npy", "cifar10.1_v6_labels.npy")


def _load_npy(path: Path, what: str) -> np.ndarray:
    """A .npy file memory-mapped, never unpickled; a one-line DataError naming the file otherwise."""
    if not path.is_file():
        raise DataError(f"{path} is missing; {what}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path} is not a readable .npy array ({type(e).__name__}); {what}") from None
    if not isinstance(arr, np.ndarray):  # np.load opens an .npz archive whatever its name
        arr.close()
        raise DataError(f"{path} is an .npz archive, not a .npy array; {what}")
    return arr


def _check_images(arr: np.ndarray, path: Path, n: int | None = None) -> None:
    if arr.dtype != np.uint8 or arr.ndim != 4 or tuple(arr.shape[1:]) != (32, 32, 3):
        raise DataError(
            f"{path} holds {arr.dtype} images of shape {tuple(arr.shape)}; expected uint8 (N, 32, 32, 3) "
            "as the official files"
        )
    if n is not None and len(arr) != n:
        raise DataError(f"{path} holds {len(arr)} images but its labels file {n}; the files do not belong together")


def _check_labels(arr: np.ndarray, path: Path, num_classes: int, most: int) -> np.ndarray:
    """The labels as int64, checked; at most ``most`` of them (the header's count is bounded before the
    copy, so a file declaring a billion labels allocates nothing)."""
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise DataError(f"{path} holds {arr.dtype} of shape {tuple(arr.shape)}; expected one integer label per image")
    if len(arr) > most:
        raise DataError(f"{path} holds {len(arr):,} labels, more than the {most:,} a CIFAR-10 test set gives")
    labels = np.asarray(arr, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{path} has labels outside 0-{num_classes - 1}; it is not a CIFAR-10 label file")
    return labels


def official_sets(folder: str | Path, names: list[str], severities: list[int], images: int | None, num_classes=10):
    """(name, severity) -> (uint8 NHWC images, labels) from a CIFAR-10-C folder: ``<name>.npy`` of
    5 x N images, severity 1 first, and ``labels.npy``. Checked before anything is evaluated."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"--corruptions-from {folder} is not a folder; pass the CIFAR-10-C folder (<corruption>.npy)")
    hint = "pass the CIFAR-10-C folder, or select what it has with --corruptions"
    labels = _check_labels(_load_npy(folder / "labels.npy", hint), folder / "labels.npy", num_classes, 5 * TEST_IMAGES)
    if len(labels) == 0 or len(labels) % 5:
        raise DataError(f"{folder / 'labels.npy'} holds {len(labels)} labels; expected 5 severities x N images")
    per = len(labels) // 5
    n = per if images is None else min(images, per)
    arrays = {}
    for name in names:
        path = folder / f"{name.rstrip('*')}.npy"
        arr = _load_npy(path, hint)
        _check_images(arr, path, len(labels))
        arrays[name.rstrip("*")] = arr
    return {
        (name, s): (arr[(s - 1) * per : (s - 1) * per + n], labels[(s - 1) * per : (s - 1) * per + n])
        for name, arr in arrays.items()
        for s in severities
    }


def shift_set(path: str | Path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10.1 v6: a folder with ``cifar10.1_v6_data.npy`` and ``cifar10.1_v6_labels.npy`` (or the path
    of the data file)."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    if not folder.is_dir():
        raise DataError(f"--shift {path} is not a folder; pass the folder holding {SHIFT_FILES[0]}")
    hint = f"pass the folder holding {SHIFT_FILES[0]} and {SHIFT_FILES[1]} (CIFAR-10.1 v6)"
    labels = _check_labels(_load_npy(folder / SHIFT_FILES[1], hint), folder / SHIFT_FILES[1], num_classes, TEST_IMAGES)
    data = _load_npy(folder / SHIFT_FILES[0], hint)
    _check_images(data, folder / SHIFT_FILES[0], len(labels))
    if len(labels) == 0:
        raise DataError(f"{folder / SHIFT_FILES[1]} holds no labels")
    return np.asarray(data), labels


def _cache_folder(test_x: np.ndarray, seed: int, cache_dir: Path | None) -> Path:
    digest = hashlib.sha256(np.ascontiguousarray(test_x).tobytes()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / "cifar10-c" / f"v{GENERATOR_VERSION}-{digest}-seed{seed}"


def generated_set(test_x: np.ndarray, name: str, severity: int, seed: int, cache_dir: Path | None) -> np.ndarray:
    """Corruption ``name`` at ``severity`` of the test images (uint8 NHWC), from the cache when it is there.

    The cache key holds the images' digest, the seed and the generator version, so a cached file is only
    ever the output of this code on these images. A file that does not load as the expected array (a
    killed writer, a damaged disk) is regenerated.
    """
    folder = _cache_folder(test_x, seed, cache_dir)
    path = folder / f"{name.rstrip('*')}-s{severity}.npy"
    if path.is_file():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.dtype == np.uint8 and arr.shape == test_x.shape:
                return arr
        except (OSError, ValueError, EOFError):
            pass
    arr = C.corrupt(test_x, name, severity, seed)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)
    except OSError:
        pass  # an unwritable cache costs time, never the result
    return arr
