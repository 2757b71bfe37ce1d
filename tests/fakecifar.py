"""A fake CIFAR-10 in the real on-disk format, small to compress and quick to build, for tests.

The real ``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/`` with ``data_batch_1..5``, ``test_batch``
and ``batches.meta``: protocol-2 pickles written by Python 2, so every string in them is a Python-2
``str`` (opcodes ``SHORT_BINSTRING``/``BINSTRING``) that loads as ``bytes`` with ``encoding='bytes'``,
and the pixel array refers to ``numpy.core.multiarray._reconstruct``. Python 3's pickler cannot write
that (it would wrap every ``bytes`` in ``_codecs.encode``), so :func:`write_batch` emits the opcodes by
hand, byte for byte in the layout of the real files. That way the loader is tested against the format it
meets in the wild, not against whatever ``pickle.dumps`` happens to produce.

The images are low-entropy on purpose, so the archive gzips to a few MB and builds in about a second:
each image is a flat, class-specific colour (levels from a small set) plus a fixed 4x4 checkerboard of
amplitude 8 and a per-image brightness step of 0, 4 or 8. Classes differ by at least 64 grey levels in
one channel, far more than the within-class variation (16), so even a linear model separates them.
Labels are a seeded permutation with slightly unequal class counts (like the real ``data_batch_1``), so
stratified splits are tested on uneven classes.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDER_NAME = "cifar-10-batches-py"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ROWS = 10000  # every real batch file has exactly this many images

# One (R, G, B) colour per class, from the levels 32/96/160/224: any two differ by >= 64 in some channel.
FAKE_COLOURS = np.array(
    [
        (160, 160, 224),  # airplane: pale blue
        (224, 32, 32),  # automobile: red
        (96, 160, 32),  # bird: green
        (160, 96, 32),  # cat: brown
        (96, 96, 32),  # deer: olive
        (224, 160, 96),  # dog: tan
        (32, 160, 96),  # frog: teal
        (160, 32, 96),  # horse: plum
        (32, 96, 224),  # ship: blue
        (224, 224, 224),  # truck: white
    ],
    dtype=np.uint8,
)
# Offsets from 1000 images per class (same spread as the real data_batch_1; they sum to 0). Training
# batch k uses them rotated by k-1, so every batch has its own uneven class counts.
_COUNT_OFFSETS = np.array([5, -26, 32, 16, -1, -63, 30, 1, 25, -19])
# A fixed 4x4-block checkerboard of amplitude 8, added to every plane of every image.
_PATTERN = (((np.arange(32)[:, None] // 4 + np.arange(32)[None, :] // 4) % 2) * 8).astype(np.uint8)

TRAIN_FILES = tuple(f"data_batch_{k}" for k in range(1, 6))
ALL_FILES = (*TRAIN_FILES, "test_batch", "batches.meta")


def fake_labels(file_name: str, *, seed: int = 0) -> np.ndarray:
    """The labels :func:`make_fake_batches` writes into ``file_name`` (e.g. ``"data_batch_3"``)."""
    if file_name == "test_batch":
        counts = np.full(10, ROWS // 10)
        stream = 0
    else:
        k = TRAIN_FILES.index(file_name) + 1
        counts = ROWS // 10 + np.roll(_COUNT_OFFSETS, k - 1)
        stream = k
    rng = np.random.default_rng([seed, stream])
    return rng.permutation(np.repeat(np.arange(10), counts)).astype(np.int64)


def fake_images(labels: np.ndarray) -> np.ndarray:
    """The uint8 images (N, 3, 32, 32) for ``labels``: class colour + checkerboard + (row % 3) * 4."""
    # All 30 possible images (10 colours x 3 brightness steps) once, then one gather: ~3x faster than
    # broadcasting the sum over 10000 rows.
    steps = (np.arange(3) * 4).astype(np.uint8)
    variants = FAKE_COLOURS[:, None, :, None, None] + steps[None, :, None, None, None] + _PATTERN
    rows = np.arange(len(labels))
    return variants[np.asarray(labels), rows % 3]


# --- A minimal Python-2-style pickle writer (protocol 2, no memo), mirroring the real files. ---


def _py2_str(value: bytes | str) -> bytes:
    """A Python 2 ``str``: SHORT_BINSTRING below 256 bytes, else BINSTRING (4-byte length)."""
    raw = value.encode("latin1") if isinstance(value, str) else value
    if len(raw) < 256:
        return pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw
    return pickle.BINSTRING + struct.pack("<i", len(raw)) + raw


def _int(value: int) -> bytes:
    if 0 <= value < 256:
        return pickle.BININT1 + bytes([value])
    if 0 <= value < 65536:
        return pickle.BININT2 + struct.pack("<H", value)
    return pickle.BININT + struct.pack("<i", value)


def _uint8_matrix(data: np.ndarray) -> bytes:
    """A 2-D uint8 array as Python 2 numpy pickled it: _reconstruct, then BUILD with the raw bytes."""
    rows, cols = data.shape
    return b"".join(
        [
            pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n",
            pickle.GLOBAL + b"numpy\nndarray\n",
            _int(0) + pickle.TUPLE1 + _py2_str(b"b") + pickle.TUPLE3 + pickle.REDUCE,
            pickle.MARK + _int(1) + _int(rows) + _int(cols) + pickle.TUPLE2,  # state: version, shape
            pickle.GLOBAL + b"numpy\ndtype\n" + _py2_str(b"u1") + _int(0) + _int(1) + pickle.TUPLE3 + pickle.REDUCE,
            pickle.MARK + _int(3) + _py2_str(b"|") + pickle.NONE * 3,  # dtype state
            pickle.BININT + struct.pack("<i", -1) + pickle.BININT + struct.pack("<i", -1) + _int(0),
            pickle.TUPLE + pickle.BUILD,
            pickle.NEWFALSE + _py2_str(np.ascontiguousarray(data).tobytes()),  # fortran flag, raw data
            pickle.TUPLE + pickle.BUILD,
        ]
    )


def _list(items: Sequence[bytes], *, chunk: int = 1000) -> bytes:
    """A list written like cPickle does: EMPTY_LIST, then MARK ... APPENDS per 1000 items."""
    out = [pickle.EMPTY_LIST]
    for start in range(0, len(items), chunk):
        out += [pickle.MARK, *items[start : start + chunk], pickle.APPENDS]
    return b"".join(out)


def _dict(pairs: Sequence[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(key + value for key, value in pairs)
    return pickle.PROTO + b"\x02" + pickle.EMPTY_DICT + pickle.MARK + body + pickle.SETITEMS + pickle.STOP


def write_batch(
    path: Path,
    data: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    *,
    batch_label: bytes = b"training batch 1 of 5",
    filenames: Sequence[bytes] | None = None,
) -> Path:
    """Write one batch file in the real format; ``data`` is (N, 3072) uint8, any N (tests use 9999)."""
    if filenames is None:
        filenames = [b"fake_%05d.png" % i for i in range(len(labels))]
    payload = _dict(
        [
            (_py2_str(b"batch_label"), _py2_str(batch_label)),
            (_py2_str(b"labels"), _list([_int(int(v)) for v in labels])),
            (_py2_str(b"data"), _uint8_matrix(np.asarray(data, dtype=np.uint8))),
            (_py2_str(b"filenames"), _list([_py2_str(f) for f in filenames])),
        ]
    )
    Path(path).write_bytes(payload)
    return Path(path)


def write_meta(path: Path, names: Sequence[str] = CLASSES) -> Path:
    """Write ``batches.meta`` as in the real archive (label_names, num_cases_per_batch, num_vis)."""
    payload = _dict(
        [
            (_py2_str(b"num_cases_per_batch"), _int(ROWS)),
            (_py2_str(b"label_names"), _list([_py2_str(n) for n in names])),
            (_py2_str(b"num_vis"), _int(3072)),
        ]
    )
    Path(path).write_bytes(payload)
    return Path(path)


def make_fake_batches(folder: Path, *, seed: int = 0) -> Path:
    """Write a complete, valid ``cifar-10-batches-py`` folder inside ``folder``; return its path."""
    out = Path(folder) / FOLDER_NAME
    out.mkdir(parents=True, exist_ok=True)
    write_meta(out / "batches.meta")
    for k, name in enumerate(TRAIN_FILES, start=1):
        labels = fake_labels(name, seed=seed)
        write_batch(
            out / name, fake_images(labels).reshape(ROWS, 3072), labels, batch_label=b"training batch %d of 5" % k
        )
    labels = fake_labels("test_batch", seed=seed)
    write_batch(
        out / "test_batch", fake_images(labels).reshape(ROWS, 3072), labels, batch_label=b"testing batch 1 of 1"
    )
    return out


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Anonymous owner and a fixed time, like a tarball made for distribution."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 1243814400  # the real archive's member time (2009-06-01)
    return info


def make_fake_archive(path: Path, *, seed: int = 0, folder: Path | None = None) -> Path:
    """Write a ``.tar.gz`` holding ``cifar-10-batches-py/...`` at ``path``; return ``path``.

    ``folder`` is an existing fake ``cifar-10-batches-py`` folder to pack (saves rebuilding it);
    without it a fresh one is built next to the archive in ``<path>.src``.
    """
    path = Path(path)
    if folder is None:
        folder = make_fake_batches(path.with_name(path.name + ".src"), seed=seed)
    # compresslevel 1: the images are so repetitive that level 1 already gives ~100:1, in a fraction
    # of the time the default level 9 takes.
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=FOLDER_NAME, filter=_plain)
    return path


# --- Hostile archives, for the extractor's defences. ---

MALICIOUS_KINDS = ("traversal", "absolute", "symlink", "hardlink")


@dataclass(frozen=True)
class MaliciousArchive:
    """A hostile archive: ``member`` is the entry that must be refused; ``outside`` must stay untouched.

    ``outside`` is where the attack would write (traversal: relative to the extraction folder, so it is
    ``None`` and a test looks for any file named ``evil``), or, for "hardlink", an existing victim file
    whose content must not change.
    """

    archive: Path
    kind: str
    member: str
    outside: Path | None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(_plain(info), io.BytesIO(data))


def make_malicious_archive(path: Path, kind: str) -> MaliciousArchive:
    """Write a gzip tar archive at ``path`` that tries to escape its extraction folder.

    Each starts with a harmless ``cifar-10-batches-py/`` folder and file, so a test can check that
    nothing at all was written (an extractor must check every member before writing any). Kinds:

    - "traversal": a file ``../evil``;
    - "absolute": a file with an absolute name, ``<path's folder>/evil-absolute`` (not a fixed
      ``/tmp/evil``, so parallel test runs cannot see each other's files);
    - "symlink": ``cifar-10-batches-py/escape`` -> ``<path's folder>/evil-outside``, then a file written
      through it, ``cifar-10-batches-py/escape/evil``;
    - "hardlink": ``cifar-10-batches-py/hard`` hard-linked to ``<path's folder>/victim.txt`` (created
      here), then a file of the same name that would overwrite the victim through the link.
    """
    path = Path(path)
    base = path.parent.resolve()
    outside: Path | None
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(FOLDER_NAME)
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(_plain(folder))
        _add_bytes(tar, f"{FOLDER_NAME}/batches.meta", b"harmless")
        if kind == "traversal":
            member, outside = "../evil", None
            _add_bytes(tar, member, b"evil")
        elif kind == "absolute":
            outside = base / "evil-absolute"
            member = str(outside)
            _add_bytes(tar, member, b"evil")
        elif kind == "symlink":
            outside = base / "evil-outside"
            member = f"{FOLDER_NAME}/escape"
            link = tarfile.TarInfo(member)
            link.type = tarfile.SYMTYPE
            link.linkname = str(outside)
            tar.addfile(_plain(link))
            _add_bytes(tar, f"{member}/evil", b"evil")
        elif kind == "hardlink":
            outside = base / "victim.txt"
            outside.write_bytes(b"victim")
            member = f"{FOLDER_NAME}/hard"
            link = tarfile.TarInfo(member)
            link.type = tarfile.LNKTYPE
            link.linkname = str(outside)
            tar.addfile(_plain(link))
            _add_bytes(tar, member, b"evil")
        else:
            raise ValueError(f"unknown kind {kind!r}; choose one of {MALICIOUS_KINDS}")
    return MaliciousArchive(path, kind, member, outside)
