"""cifarlab.data.cifar: locating, downloading, safe extraction, validation, parsing, the parsed cache, splits."""

from __future__ import annotations

import filecmp
import functools
import hashlib
import http.server
import os
import pickle
import pickletools
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import fakecifar
import numpy as np
import pytest
import torch

import cifarlab.data.download as download_mod
from cifarlab.core.errors import CifarlabWarning, ConfigError, DataError
from cifarlab.data.cifar import ARCHIVE_NAME, CLASSES, FOLDER_NAME, CifarArrays, download, load_cifar10, safe_extract
from cifarlab.data.locate import locate
from cifarlab.data.splits import make_splits, parse_train_batches

ALL_FILES = fakecifar.ALL_FILES


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI sets CIFARLAB_DATA for the whole run; these tests decide themselves where data is."""
    monkeypatch.delenv("CIFARLAB_DATA", raising=False)
    monkeypatch.delenv("CIFARLAB_URL", raising=False)


def clone(folder: Path, dest: Path) -> Path:
    """A copy of a batches folder made of hard links (instant); replace a file with :func:`rewrite`."""
    out = dest / FOLDER_NAME
    out.mkdir(parents=True)
    for name in ALL_FILES:
        os.link(folder / name, out / name)
    return out


def rewrite(path: Path, payload: bytes) -> None:
    """Replace a (hard-linked) file without touching the shared original."""
    path.unlink()
    path.write_bytes(payload)


def reference_decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The obvious decode of one batch file: pickle, then reshape rows to (3, 32, 32)."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return batch[b"data"].reshape(-1, 3, 32, 32), np.asarray(batch[b"labels"])


def cifar_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CifarlabWarning)]


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------
# The fake data set itself
# ---------------------------------------------------------------------------------------------------


def test_fake_batches_use_python2_pickle_strings(fake_folder: Path) -> None:
    ops = {op.name for op, _, _ in pickletools.genops((fake_folder / "batches.meta").read_bytes())}
    assert "SHORT_BINSTRING" in ops and not ops & {"BINUNICODE", "SHORT_BINUNICODE", "STACK_GLOBAL"}
    raw = (fake_folder / "data_batch_1").read_bytes()
    globals_ = [arg for op, arg, _ in pickletools.genops(raw) if op.name == "GLOBAL"]
    assert globals_ == ["numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"]
    as_bytes = pickle.loads(raw, encoding="bytes")
    as_latin1 = pickle.loads(raw, encoding="latin1")
    assert set(as_bytes) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert np.array_equal(as_bytes[b"data"], as_latin1["data"])
    assert np.bincount(as_bytes[b"labels"]).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]


# ---------------------------------------------------------------------------------------------------
# Parsing and the parsed cache
# ---------------------------------------------------------------------------------------------------


def test_load_fake_archive_exact_values_and_cache(fake_archive: Path, fake_folder: Path, monkeypatch) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arrays = load_cifar10(fake_archive, progress=False)
    # The fake archive is not the official one: accepted, with exactly one one-line warning.
    messages = cifar_warnings(caught)
    assert len(messages) == 1, messages
    assert "not the official CIFAR-10 archive" in messages[0] and fake_archive.name in messages[0]
    assert "\n" not in messages[0]

    assert arrays.train_x.shape == (50000, 3, 32, 32) and arrays.train_x.dtype == torch.uint8
    assert arrays.test_x.shape == (10000, 3, 32, 32) and arrays.test_x.dtype == torch.uint8
    for t in (arrays.train_y, arrays.train_batch, arrays.test_y):
        assert t.dtype == torch.int64
    assert arrays.train_y.shape == arrays.train_batch.shape == (50000,) and arrays.test_y.shape == (10000,)
    assert arrays.classes == CLASSES
    assert arrays.source == str(fake_archive.resolve())
    assert torch.equal(arrays.train_batch, torch.arange(1, 6).repeat_interleave(10000))

    # Every row equals a plain decode of its pickle ...
    for k in range(1, 6):
        x, y = reference_decode(fake_folder / f"data_batch_{k}")
        rows = slice((k - 1) * 10000, k * 10000)
        assert np.array_equal(arrays.train_x[rows].numpy(), x)
        assert np.array_equal(arrays.train_y[rows].numpy(), y)
    x, y = reference_decode(fake_folder / "test_batch")
    assert np.array_equal(arrays.test_x.numpy(), x) and np.array_equal(arrays.test_y.numpy(), y)
    # ... and what fakecifar meant to write: labels, and pixels as R, G, B planes (NCHW).
    assert np.array_equal(arrays.train_y[20000:30000].numpy(), fakecifar.fake_labels("data_batch_3"))
    label = int(arrays.test_y[1])
    colour = fakecifar.FAKE_COLOURS[label].astype(int)
    assert arrays.test_x[1, :, 0, 0].tolist() == (colour + 4).tolist()  # row 1: brightness step 4
    assert arrays.test_x[1, :, 0, 4].tolist() == (colour + 4 + 8).tolist()  # checkerboard's bright block

    # The second load comes from the parsed cache: same tensors, fast, and no md5 of the archive.
    def no_md5(path: Path) -> str:
        raise AssertionError("the archive's md5 was computed on a parsed-cache hit")

    monkeypatch.setattr(download_mod, "_md5_file", no_md5)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load_cifar10(fake_archive, progress=False)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"cached load took {elapsed:.2f} s"
    assert len(cifar_warnings(caught)) == 1  # the verdict is cached with the data, so runs still see it
    for name in ("train_x", "train_y", "train_batch", "test_x", "test_y"):
        assert torch.equal(getattr(again, name), getattr(arrays, name)), name
    assert again.classes == arrays.classes and again.source == arrays.source


def test_batches_folder_gives_no_md5_warning(fake_folder: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arrays = load_cifar10(fake_folder, offline=True)
    assert cifar_warnings(caught) == []
    assert arrays.source == str(fake_folder.resolve()) and len(arrays.train_y) == 50000


def test_corrupt_parsed_cache_is_ignored(fake_folder: Path, cache_dir: Path) -> None:
    first = load_cifar10(fake_folder)
    (cached,) = (cache_dir / "parsed").glob("*.pt")
    cached.write_bytes(b"not a torch file")
    second = load_cifar10(fake_folder)
    assert torch.equal(first.train_x, second.train_x) and torch.equal(first.test_y, second.test_y)
    assert torch.load(cached, weights_only=True)["format"] == 1  # re-parsed and rewritten


# ---------------------------------------------------------------------------------------------------
# Where the data may be
# ---------------------------------------------------------------------------------------------------

FORMS = [
    "archive",
    "batches-folder",
    "parent-of-archive",
    "parent-of-folder",
    "env-archive",
    "env-folder",
    "cache-folder",
    "cache-archive",
]


@pytest.mark.parametrize("form", FORMS)
def test_locate_accepts_every_form(form, fake_archive, fake_folder, cache_dir, monkeypatch) -> None:
    data: Path | None = {
        "archive": fake_archive,
        "batches-folder": fake_folder,
        "parent-of-archive": fake_archive.parent,
        "parent-of-folder": fake_folder.parent,
    }.get(form)
    if form == "env-archive":
        monkeypatch.setenv("CIFARLAB_DATA", str(fake_archive))
    elif form == "env-folder":
        monkeypatch.setenv("CIFARLAB_DATA", str(fake_folder))
    elif form == "cache-folder":
        clone(fake_folder, cache_dir)
    elif form == "cache-archive":
        os.link(fake_archive, cache_dir / ARCHIVE_NAME)
    beside_archive = sorted(p.name for p in fake_archive.parent.iterdir())

    found = locate(data, offline=True, progress=False)

    assert all((found / name).is_file() for name in ALL_FILES)
    assert filecmp.cmp(found / "data_batch_4", fake_folder / "data_batch_4", shallow=False)
    if "archive" in form:
        # Extracted into the cache, never beside the archive (which may be read-only).
        assert found.is_relative_to(cache_dir.resolve() / "extracted")
        assert sorted(p.name for p in fake_archive.parent.iterdir()) == beside_archive
        assert not list(found.parent.glob(".extract-*"))  # the temporary folder is gone
        inode = (found / "test_batch").stat().st_ino
        assert locate(data, offline=True) == found and (found / "test_batch").stat().st_ino == inode
    elif form == "cache-folder":
        assert found == (cache_dir / FOLDER_NAME).resolve()
    else:
        assert found == fake_folder.resolve()


def test_precedence_data_then_env_then_cache(fake_folder, cache_dir, monkeypatch) -> None:
    (cache_dir / ARCHIVE_NAME).write_bytes(b"garbage that must not be read")
    monkeypatch.setenv("CIFARLAB_DATA", str(fake_folder))
    assert locate(offline=True) == fake_folder.resolve()  # env before cache
    monkeypatch.setenv("CIFARLAB_DATA", str(cache_dir / "nowhere"))
    assert locate(fake_folder, offline=True) == fake_folder.resolve()  # argument before env
    with pytest.raises(DataError, match=r"CIFARLAB_DATA .*nowhere does not exist"):
        locate(offline=True)


def test_changed_archive_is_extracted_again_and_old_copy_pruned(fake_archive, tmp_path) -> None:
    archive = tmp_path / ARCHIVE_NAME
    shutil.copyfile(fake_archive, archive)
    first = locate(archive, offline=True)
    st = archive.stat()
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    second = locate(archive, offline=True)
    assert second != first and second.is_dir() and not first.exists()


def test_missing_or_empty_locations_are_clear_errors(fake_folder, tmp_path) -> None:
    with pytest.raises(DataError, match=r"--data .*no-such-thing does not exist"):
        locate(tmp_path / "no-such-thing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"holds neither cifar-10-batches-py/ nor cifar-10-python.tar.gz"):
        locate(tmp_path / "empty")
    partial = clone(fake_folder, tmp_path / "partial")
    (partial / "data_batch_5").unlink()
    with pytest.raises(DataError, match=r"is missing data_batch_5"):
        locate(partial)
    with pytest.raises(DataError, match=r"single batch file"):
        locate(fake_folder / "test_batch")


# ---------------------------------------------------------------------------------------------------
# Downloads over real HTTP
# ---------------------------------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder; ``/interrupted/...`` promises the whole archive but sends half."""

    payload = b""
    requests = 0

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        type(self).requests += 1
        if self.path.startswith("/interrupted/"):
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload[: len(self.payload) // 2])
            self.wfile.flush()
            self.close_connection = True  # then the server closes the socket: the client sees EOF early
            return
        super().do_GET()


@pytest.fixture(scope="module")
def server(fake_archive: Path, tmp_path_factory) -> Iterator[str]:
    """A local HTTP server with the fake archive at /cifar-10-python.tar.gz; yields its base URL."""
    root = tmp_path_factory.mktemp("www")
    os.link(fake_archive, root / ARCHIVE_NAME)
    _Handler.payload = fake_archive.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_into_cache_via_url_and_env(server, fake_archive, cache_dir, monkeypatch) -> None:
    good = f"{server}/{ARCHIVE_NAME}"
    fake_md5 = md5_of(fake_archive)
    monkeypatch.setenv("CIFARLAB_URL", f"{server}/missing.tar.gz")  # the url argument wins over the env
    found = locate(url=good, md5=fake_md5, progress=False)
    assert (cache_dir / ARCHIVE_NAME).read_bytes() == fake_archive.read_bytes()
    assert found.is_relative_to(cache_dir.resolve() / "extracted")
    assert not list(cache_dir.glob("*.part")) and not list(cache_dir.glob(".*.part"))

    fresh = cache_dir / "second"
    monkeypatch.setenv("CIFARLAB_URL", good)  # the way to point a run (or a test) at a mirror
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arrays = load_cifar10(cache_dir=fresh, md5=fake_md5, progress=False)
    assert arrays.source == str((fresh / ARCHIVE_NAME).resolve())
    assert torch.equal(arrays.test_y, torch.from_numpy(fakecifar.fake_labels("test_batch")))
    assert len(cifar_warnings(caught)) == 1  # a verified mirror file is still not the official archive


def test_download_shows_progress_only_when_asked(server, tmp_path, capsys) -> None:
    download(f"{server}/{ARCHIVE_NAME}", tmp_path / "a.tar.gz", md5=None, progress=True)
    assert "downloading a.tar.gz" in capsys.readouterr().err
    download(f"{server}/{ARCHIVE_NAME}", tmp_path / "b.tar.gz", md5=None, progress=False)
    assert capsys.readouterr().err == ""


def assert_nothing_left(folder: Path) -> None:
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_md5_mismatch_leaves_nothing(server, tmp_path) -> None:
    dest = tmp_path / "dl" / ARCHIVE_NAME
    with pytest.raises(DataError, match=r"has md5 [0-9a-f]{32}, expected 0{32}: corrupt download or wrong mirror"):
        download(f"{server}/{ARCHIVE_NAME}", dest, md5="0" * 32, progress=False)
    assert_nothing_left(dest.parent)


def test_download_official_md5_is_the_default(server, cache_dir) -> None:
    # Pointing at a mirror does not lower the bar: its file must still be the official one.
    with pytest.raises(DataError, match="expected c58f30108f718f92721af3b95e74349a"):
        locate(url=f"{server}/{ARCHIVE_NAME}", progress=False)
    assert_nothing_left(cache_dir)


def test_interrupted_download_leaves_nothing(server, tmp_path) -> None:
    dest = tmp_path / "dl" / ARCHIVE_NAME
    size = len(_Handler.payload)
    with pytest.raises(DataError, match=rf"interrupted after \d+ of {size} bytes; run again to retry"):
        download(f"{server}/interrupted/{ARCHIVE_NAME}", dest, md5=None, progress=False)
    assert_nothing_left(dest.parent)


def test_http_404_and_refused_connection(server, tmp_path) -> None:
    dest = tmp_path / "dl" / ARCHIVE_NAME
    with pytest.raises(DataError, match=r"cannot download .*/missing.tar.gz: HTTP 404"):
        download(f"{server}/missing.tar.gz", dest, progress=False)
    assert_nothing_left(dest.parent)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=r"cannot download .*: .*check your network or pass --data"):
        download(f"http://127.0.0.1:{port}/{ARCHIVE_NAME}", dest, progress=False)
    assert_nothing_left(dest.parent)


def test_offline_never_downloads(server, cache_dir, monkeypatch) -> None:
    monkeypatch.setenv("CIFARLAB_URL", f"{server}/{ARCHIVE_NAME}")
    before = _Handler.requests
    with pytest.raises(DataError) as info:
        locate(offline=True, md5=None)
    message = str(info.value)
    assert "--offline forbids downloading" in message and str(cache_dir) in message
    assert "pass --data PATH or set CIFARLAB_DATA" in message and "\n" not in message
    assert _Handler.requests == before
    assert_nothing_left(cache_dir)


# ---------------------------------------------------------------------------------------------------
# Hostile and broken archives
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", fakecifar.MALICIOUS_KINDS)
def test_malicious_archive_is_refused_before_writing_anything(kind, tmp_path) -> None:
    bad = fakecifar.make_malicious_archive(tmp_path / f"{kind}.tar.gz", kind)
    target = tmp_path / "work" / "target"
    with pytest.raises(DataError) as info:
        safe_extract(bad.archive, target)
    message = str(info.value)
    assert repr(bad.member) in message and bad.archive.name in message and "\n" not in message
    assert list(target.rglob("*")) == []  # not even the harmless members came out
    assert [p for p in tmp_path.rglob("*evil*")] == []  # nothing landed anywhere else either
    if kind == "hardlink":
        assert bad.outside is not None and bad.outside.read_bytes() == b"victim"


def test_malicious_archive_via_locate(tmp_path, cache_dir) -> None:
    bad = fakecifar.make_malicious_archive(tmp_path / "evil.tar.gz", "traversal")
    with pytest.raises(DataError, match="refusing to extract"):
        locate(bad.archive, offline=True)
    assert not (cache_dir / "evil").exists() and not list(cache_dir.rglob("batches.meta"))


def test_truncated_and_non_gzip_archives(fake_archive, tmp_path) -> None:
    raw = fake_archive.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"cut\.tar\.gz is truncated or not a gzip tar archive .*download again"):
        load_cifar10(cut, offline=True)
    text = tmp_path / "text.tar.gz"
    text.write_text("<html>captive portal</html>")
    with pytest.raises(DataError, match=r"text\.tar\.gz is truncated or not a gzip tar archive"):
        locate(text, offline=True)


def test_archive_without_batches_folder(tmp_path) -> None:
    import tarfile

    archive = tmp_path / "other.tar.gz"
    (tmp_path / "readme.txt").write_text("hi")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "readme.txt", arcname="readme.txt")
    with pytest.raises(DataError, match=r"has no cifar-10-batches-py folder \(it holds: readme.txt\)"):
        locate(archive, offline=True)


# ---------------------------------------------------------------------------------------------------
# Damaged batch files: one line naming the file and the problem
# ---------------------------------------------------------------------------------------------------


def test_broken_pickle_names_the_file(fake_folder, tmp_path) -> None:
    folder = clone(fake_folder, tmp_path)
    rewrite(folder / "data_batch_2", b"\x80\x02}q\x00(" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"data_batch_2 is not a valid CIFAR-10 pickle .*download again"):
        load_cifar10(folder)


def test_wrong_shape_names_file_and_shape(fake_folder, tmp_path) -> None:
    folder = clone(fake_folder, tmp_path)
    labels = fakecifar.fake_labels("data_batch_3")[:9999]
    fakecifar.write_batch(tmp_path / "short", fakecifar.fake_images(labels).reshape(9999, 3072), labels)
    rewrite(folder / "data_batch_3", (tmp_path / "short").read_bytes())
    with pytest.raises(DataError) as info:
        load_cifar10(folder)
    message = str(info.value)
    assert "data_batch_3: b'data' has shape (9999, 3072), expected (10000, 3072)" in message
    assert "\n" not in message


def test_label_out_of_range(fake_folder, tmp_path) -> None:
    folder = clone(fake_folder, tmp_path)
    labels = fakecifar.fake_labels("test_batch")
    images = fakecifar.fake_images(labels).reshape(10000, 3072)
    labels[7] = 10
    fakecifar.write_batch(tmp_path / "bad", images, labels, batch_label=b"testing batch 1 of 1")
    rewrite(folder / "test_batch", (tmp_path / "bad").read_bytes())
    with pytest.raises(DataError, match=r"test_batch: label 10 at row 7 is outside 0\.\.9"):
        load_cifar10(folder)


def test_meta_with_wrong_class_count(fake_folder, tmp_path) -> None:
    folder = clone(fake_folder, tmp_path)
    fakecifar.write_meta(tmp_path / "meta", CLASSES[:9])
    rewrite(folder / "batches.meta", (tmp_path / "meta").read_bytes())
    with pytest.raises(DataError, match=r"batches.meta: b'label_names' has 9 entries, expected 10"):
        load_cifar10(folder)


class _Exploit:
    """A pickle payload that would run a shell command when unpickled by a trusting loader."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_cannot_run_code(fake_folder, tmp_path) -> None:
    folder = clone(fake_folder, tmp_path / "data")
    marker = tmp_path / "pwned"
    rewrite(folder / "data_batch_1", pickle.dumps({b"data": _Exploit(marker)}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_1 is not a valid CIFAR-10 pickle .*refers to (posix|os)\.system"):
        load_cifar10(folder)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------------

PER_BATCH = 400


def synthetic_arrays(seed: int = 0) -> CifarArrays:
    """Small arrays with uneven classes; each image encodes its row number in two pixels."""
    rng = np.random.default_rng(seed)
    n = 5 * PER_BATCH
    probs = np.array([3, 1, 2, 2, 1, 1, 4, 1, 2, 3], dtype=float)
    y = rng.choice(10, size=n, p=probs / probs.sum())
    x = np.zeros((n, 3, 32, 32), dtype=np.uint8)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    test_x = np.zeros((30, 3, 32, 32), dtype=np.uint8)
    return CifarArrays(
        train_x=torch.from_numpy(x),
        train_y=torch.from_numpy(y.astype(np.int64)),
        train_batch=torch.arange(1, 6).repeat_interleave(PER_BATCH),
        test_x=torch.from_numpy(test_x),
        test_y=torch.zeros(30, dtype=torch.int64),
        classes=CLASSES,
        source="synthetic",
    )


def row_ids(split) -> list[int]:
    return (split.x[:, 0, 0, 0].long() + 256 * split.x[:, 0, 0, 1].long()).tolist()


def expected_val_counts(labels: list[int], val_size: int) -> list[int]:
    """Hamilton's method, written independently: floors of exact quotas, leftovers to largest fractions."""
    quotas = [Fraction(val_size * labels.count(c), len(labels)) for c in range(10)]
    counts = [int(q) for q in quotas]  # floor, as quotas are non-negative
    leftovers = sorted(range(10), key=lambda c: (-(quotas[c] - counts[c]), c))
    for c in leftovers[: val_size - sum(counts)]:
        counts[c] += 1
    return counts


def test_splits_sizes_stratification_and_disjointness() -> None:
    arrays = synthetic_arrays()
    splits = make_splits(arrays, val_size=333, split_seed=1)
    assert splits.val is not None
    assert len(splits.val) == 333 and len(splits.train) == 5 * PER_BATCH - 333
    train, val = row_ids(splits.train), row_ids(splits.val)
    assert train == sorted(train) and val == sorted(val)  # original order kept
    assert not set(train) & set(val) and sorted(train + val) == list(range(5 * PER_BATCH))
    assert torch.equal(splits.val.y, arrays.train_y[val]) and torch.equal(splits.train.y, arrays.train_y[train])
    counts = torch.bincount(splits.val.y, minlength=10).tolist()
    assert counts == expected_val_counts(arrays.train_y.tolist(), 333)
    assert splits.test.x is arrays.test_x and splits.classes == CLASSES
    assert splits.train.x.dtype == torch.uint8 and splits.train.y.dtype == torch.int64


def test_splits_are_deterministic_by_seed() -> None:
    arrays = synthetic_arrays()
    a = make_splits(arrays, val_size=200, split_seed=5)
    b = make_splits(arrays, val_size=200, split_seed=5)
    c = make_splits(arrays, val_size=200, split_seed=6)
    assert row_ids(a.val) == row_ids(b.val) and row_ids(a.train) == row_ids(b.train)
    assert row_ids(a.val) != row_ids(c.val)
    assert torch.bincount(a.val.y, minlength=10).tolist() == torch.bincount(c.val.y, minlength=10).tolist()


def test_train_batches_and_limit_select_rows_in_order() -> None:
    arrays = synthetic_arrays()
    one = make_splits(arrays, train_batches=(1,), val_size=40)
    assert sorted(row_ids(one.train) + row_ids(one.val)) == list(range(PER_BATCH))
    two = make_splits(arrays, train_batches=(4, 2), val_size=0)
    expected = list(range(PER_BATCH, 2 * PER_BATCH)) + list(range(3 * PER_BATCH, 4 * PER_BATCH))
    assert two.val is None and row_ids(two.train) == expected
    limited = make_splits(arrays, train_batches=(2, 3), train_limit=500, val_size=50)
    selected = list(range(PER_BATCH, PER_BATCH + 500))  # the first 500 rows of batches 2 and 3
    assert sorted(row_ids(limited.train) + row_ids(limited.val)) == selected
    labels = arrays.train_y[selected].tolist()
    assert torch.bincount(limited.val.y, minlength=10).tolist() == expected_val_counts(labels, 50)


def test_test_limit_keeps_the_first_test_images() -> None:
    arrays = synthetic_arrays()
    full = make_splits(arrays, val_size=0)
    n = len(full.test) - 7
    cut = make_splits(arrays, val_size=0, test_limit=n)
    assert torch.equal(cut.test.x, arrays.test_x[:n]) and torch.equal(cut.test.y, arrays.test_y[:n])
    assert torch.equal(cut.train.x, full.train.x)  # training rows untouched
    with pytest.warns(CifarlabWarning, match=f"--test-limit 99999 is more than the {len(full.test)} test images"):
        assert len(make_splits(arrays, val_size=0, test_limit=99_999).test) == len(full.test)


def test_split_argument_errors() -> None:
    arrays = synthetic_arrays()
    too_many = rf"--val-size {PER_BATCH} leaves no training images \(only {PER_BATCH} selected\)"
    with pytest.raises(ConfigError, match=too_many):
        make_splits(arrays, train_batches=(1,), val_size=PER_BATCH)
    with pytest.raises(ConfigError, match=r"--val-size 10 leaves no training images \(only 5 selected\)"):
        make_splits(arrays, train_limit=5, val_size=10)
    with pytest.raises(ConfigError, match="--val-size must be 0 or more"):
        make_splits(arrays, val_size=-1)
    with pytest.raises(ConfigError, match="--train-limit must be a positive"):
        make_splits(arrays, train_limit=0)
    for bad in (0, -3):
        with pytest.raises(ConfigError, match="--test-limit must be a positive"):
            make_splits(arrays, test_limit=bad)
    for bad in [(), (0,), (6,), (1, 7)]:
        with pytest.raises(ConfigError, match="--train-batches"):
            make_splits(arrays, train_batches=bad)
    with pytest.warns(CifarlabWarning, match="--train-limit 5000 is more than the 400 selected"):
        assert len(make_splits(arrays, train_batches=(1,), train_limit=5000, val_size=0).train) == PER_BATCH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,2", (1, 2)),
        ("1-3", (1, 2, 3)),
        (" 3 , 1 ", (1, 3)),
        ("1,4-5", (1, 4, 5)),
        ("5", (5,)),
        ("2,2", (2,)),
        ("all", (1, 2, 3, 4, 5)),
        ("1-5", (1, 2, 3, 4, 5)),
    ],
)
def test_parse_train_batches(text, expected) -> None:
    assert parse_train_batches(text) == expected


@pytest.mark.parametrize("text", ["", "0", "6", "1-6", "3-1", "a", "1,,2", "1-", "-1", "1.5", "1,x"])
def test_parse_train_batches_rejects(text) -> None:
    with pytest.raises(ConfigError, match=r"--train-batches .*1\.\.5") as info:
        parse_train_batches(text)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------
# The real data set (CI sets CIFARLAB_DATA); loaded once per session by the real_arrays fixture
# ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_cifar10(real_arrays, real_data, real_cache_dir, monkeypatch) -> None:
    arrays, caught = real_arrays
    assert arrays.train_x.shape == (50000, 3, 32, 32) and arrays.test_x.shape == (10000, 3, 32, 32)
    assert arrays.classes == CLASSES
    assert arrays.train_y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert arrays.test_y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    batch1 = arrays.train_y[arrays.train_batch == 1]
    assert torch.bincount(batch1, minlength=10).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]
    assert torch.bincount(arrays.train_y).tolist() == [5000] * 10
    # Channel means in chunks: a float copy of all 50,000 images would take 600 MB.
    sums = sum(arrays.train_x[i : i + 5000].sum(dim=(0, 2, 3), dtype=torch.int64) for i in range(0, 50000, 5000))
    means = (sums.double() / (50000 * 32 * 32 * 255)).tolist()
    assert means == pytest.approx([0.4913, 0.4821, 0.4465], abs=1e-3)
    # The shared copy is rebuilt from JPEGs (see its SOURCE.md): accepted, with one warning.
    messages = cifar_warnings(caught)
    assert len(messages) == 1 and "is not the official CIFAR-10 archive" in messages[0], messages

    # Loading again reuses the session's cache: no md5 of the 170 MB archive, same data, same warning.
    monkeypatch.setattr(download_mod, "_md5_file", lambda path: pytest.fail("md5 computed on a cache hit"))
    with warnings.catch_warnings(record=True) as again_caught:
        warnings.simplefilter("always")
        again = load_cifar10(real_data, cache_dir=real_cache_dir, offline=True)
    assert torch.equal(again.test_y, arrays.test_y) and len(cifar_warnings(again_caught)) == 1
    splits = make_splits(again)
    assert len(splits.train) == 45000 and torch.bincount(splits.val.y).tolist() == [500] * 10


def test_gpu_data_carries_the_batches_exactly(fake_folder, tmp_path):
    # scripts/gpu_data.py: the archive as lossless WebP tiles of 1,000 images in 2 parts, rebuilt into
    # batches whose pixels, labels and batch labels equal the original files' (the GPU figures rest on
    # this). The first 2,000 images of each fake file: two tiles each, a fifth of the encoding time.
    import fakecifar

    small = tmp_path / "small" / "cifar-10-batches-py"
    small.mkdir(parents=True)
    shutil.copy(fake_folder / "batches.meta", small / "batches.meta")
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = pickle.loads((fake_folder / name).read_bytes(), encoding="bytes")
        fakecifar.write_batch(small / name, d[b"data"][:2000], d[b"labels"][:2000], batch_label=d[b"batch_label"])
    archive = fakecifar.make_fake_archive(tmp_path / "cifar-10-python.tar.gz", folder=small)
    script = [sys.executable, str(Path(__file__).parent.parent / "scripts" / "gpu_data.py")]
    subprocess.run([*script, "pack", str(archive), str(tmp_path / "parts")], check=True, capture_output=True)
    parts = sorted((tmp_path / "parts").iterdir())
    assert [p.name for p in parts] == ["part0", "part1"] and sorted(len(list(p.iterdir())) for p in parts) == [6, 7]
    lone = subprocess.run([*script, "unpack", str(tmp_path / "half"), str(parts[0])], capture_output=True, text=True)
    assert lone.returncode != 0 and "tiles missing" in lone.stderr  # one part alone is refused
    subprocess.run([*script, "unpack", str(tmp_path / "out"), *map(str, parts)], check=True, capture_output=True)
    for name in ["data_batch_1", "data_batch_5", "test_batch"]:
        got = pickle.loads((tmp_path / "out" / "cifar-10-batches-py" / name).read_bytes(), encoding="bytes")
        want = pickle.loads((small / name).read_bytes(), encoding="bytes")
        assert np.array_equal(got[b"data"], want[b"data"]) and got[b"labels"] == list(want[b"labels"])
        assert got[b"batch_label"] == want[b"batch_label"]
    meta = (tmp_path / "out" / "cifar-10-batches-py" / "batches.meta").read_bytes()
    assert meta == (small / "batches.meta").read_bytes()


def _script(name: str):
    """A module of scripts/ loaded by path (they are not a package)."""
    import importlib.util

    path = Path(__file__).parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_airbench_side_writes_its_data_files_from_ours(fake_folder, tmp_path):
    # scripts/airbench_side.py prepare: airbench94_muon reads {images: uint8 NHWC, labels, classes} from
    # cifar10/train.pt and test.pt; the pixels must be the batches' own, pixel for pixel.
    side = _script("airbench_side")
    side.prepare(fake_folder, tmp_path / "cifar10")
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        got = torch.load(tmp_path / "cifar10" / f"{split}.pt", weights_only=True)
        raw = [pickle.loads((fake_folder / n).read_bytes(), encoding="bytes") for n in names]
        planes = np.concatenate([d[b"data"] for d in raw]).reshape(-1, 3, 32, 32)
        assert got["images"].dtype == torch.uint8 and got["images"].shape == (len(planes), 32, 32, 3)
        assert np.array_equal(got["images"].numpy(), planes.transpose(0, 2, 3, 1))
        assert got["labels"].tolist() == [y for d in raw for y in d[b"labels"]]
        assert got["classes"] == list(fakecifar.CLASSES)


def test_airbench_side_refuses_a_damaged_folder(fake_folder, tmp_path):
    side = _script("airbench_side")
    bad = tmp_path / "bad"
    shutil.copytree(fake_folder, bad)
    (bad / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="test_batch"):
        side.prepare(bad, tmp_path / "cifar10")
    assert not (tmp_path / "cifar10" / "test.pt").exists()


# airbench94_muon's table as its print_columns writes it: a warm-up run, then two timed runs (the run
# number on a run's first row only), the last row of each the 6-view TTA evaluation.
_AIRBENCH_LOG = """\
----------------------------------------------------------------------------------
|  run     |  epoch  |  train_acc  |  val_acc  |  tta_val_acc  |  time_seconds  |
----------------------------------------------------------------------------------
|  warmup  |      0  |     0.1000  |   0.1000  |               |        9.0000  |
|          |   eval  |     0.1000  |   0.1000  |       0.1000  |        9.5000  |
----------------------------------------------------------------------------------
|       0  |      0  |     0.6000  |   0.8000  |               |        0.3500  |
|          |      1  |     0.8000  |   0.8300  |               |        0.6500  |
|          |      2  |     0.9000  |   0.9010  |               |        0.9500  |
|          |   eval  |     0.9000  |   0.9010  |       0.9080  |        1.0500  |
----------------------------------------------------------------------------------
|       1  |      0  |     0.6000  |   0.8100  |               |        0.3400  |
|          |      1  |     0.8000  |   0.8260  |               |        0.6400  |
|          |      2  |     0.9000  |   0.8990  |               |        0.9400  |
|          |   eval  |     0.9000  |   0.8990  |       0.9030  |        1.0400  |
----------------------------------------------------------------------------------
|       2  |      0  |     0.6000  |   0.7000  |               |        0.3400  |
|          |   eval  |     0.9000  |   0.7000  |       0.7500  |        0.4400  |
----------------------------------------------------------------------------------
Mean: 0.8537    Std: 0.0863
"""


def test_airbench_side_reads_airbench_clock():
    # Time to a target: the first epoch whose plain accuracy reaches it, else the TTA row if that does,
    # else None; the warm-up run is not timed.
    got = _script("airbench_side").parse(_AIRBENCH_LOG, [0.827, 0.90])["runs"]
    assert got == [
        {"run": "0", "tta_acc": 0.908, "seconds": 1.05, "seconds_to": {"0.827": 0.65, "0.9": 0.95}},
        {"run": "1", "tta_acc": 0.903, "seconds": 1.04, "seconds_to": {"0.827": 0.94, "0.9": 1.04}},
        {"run": "2", "tta_acc": 0.75, "seconds": 0.44, "seconds_to": {"0.827": None, "0.9": None}},
    ]
    assert _script("airbench_side").parse("Traceback (most recent call last):\n  boom", [0.9])["runs"] == []
