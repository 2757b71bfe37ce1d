"""Shared fixtures: a fake CIFAR-10 (folder and archive), isolated caches, and the real data set if present.

Caches: every test gets its own empty ``$CIFARLAB_CACHE`` (deleted afterwards: one load can put ~400 MB
there, an extracted copy plus the parsed tensors), so no test touches ``~/.cache`` or sees another
test's cache. Fixtures of wider scope (which run before the per-test one) get a session-wide cache set
by :func:`_session_cache`, for the same reason. The real data set uses its own session-scoped cache, so
its 170 MB archive is extracted and parsed once per session.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cifarlab.data.cifar import CifarArrays, load_cifar10

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import fakecifar`

import fakecifar

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs the suite in one worker process per core (pytest -n auto): one torch thread
    # per worker, here and in the CLI processes the tests start, so workers never oversubscribe.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

# Read before any fixture changes the environment: CI points CIFARLAB_DATA at the real data set.
REAL_DATA = os.environ.get("CIFARLAB_DATA", "").strip()


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session-wide ``$CIFARLAB_CACHE``, for session/module fixtures and the subprocesses they start."""
    cache = tmp_path_factory.mktemp("session-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIFARLAB_CACHE", str(cache))
        yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own empty ``$CIFARLAB_CACHE`` (removed after the test to keep /tmp small)."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("CIFARLAB_CACHE", str(cache))
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def fake_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid fake ``cifar-10-batches-py`` folder (60,000 learnable images). Read-only by convention."""
    return fakecifar.make_fake_batches(tmp_path_factory.mktemp("fake"), seed=0)


@pytest.fixture(scope="session")
def fake_archive(tmp_path_factory: pytest.TempPathFactory, fake_folder: Path) -> Path:
    """``cifar-10-python.tar.gz`` packing :func:`fake_folder` (a few MB). Read-only by convention."""
    return fakecifar.make_fake_archive(
        tmp_path_factory.mktemp("fake-archive") / "cifar-10-python.tar.gz", folder=fake_folder
    )


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real data set's location from ``$CIFARLAB_DATA`` (as CI sets it), or skip the test."""
    if not REAL_DATA:
        pytest.skip("CIFARLAB_DATA is not set: no real CIFAR-10 to test against")
    path = Path(REAL_DATA).expanduser()
    if not path.exists():
        pytest.skip(f"CIFARLAB_DATA={REAL_DATA} does not exist")
    return path


@pytest.fixture(scope="session")
def real_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache shared by every real-data test of the session: the real archive is extracted once."""
    cache = tmp_path_factory.mktemp("real-cache")
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def real_arrays(real_data: Path, real_cache_dir: Path) -> tuple[CifarArrays, list[warnings.WarningMessage]]:
    """The real data set, loaded once per session, with the warnings that first load emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arrays = load_cifar10(real_data, cache_dir=real_cache_dir, offline=True, progress=False)
    return arrays, list(caught)


@pytest.fixture(scope="module")
def tiny_run(fake_folder, tmp_path_factory, _session_cache) -> Path:
    """One finished 1-epoch run of the hostile tests' ``TINY`` settings, per test module; tests copy it
    before damaging it."""
    from test_cli import _SHARED, cli_in_process
    from test_hostile import TINY

    _SHARED["CIFARLAB_CACHE"] = str(_session_cache)
    out = tmp_path_factory.mktemp("tiny-run")
    cli_in_process("train", *TINY, "--data", fake_folder, "--out", out, "--name", "r", check=True)
    return out / "r"


@pytest.fixture(scope="module")
def evaluated_run(tiny_run, tmp_path_factory) -> Path:
    """:func:`tiny_run` with its evaluation files, so ``report`` needs no data set."""
    from test_cli import cli_in_process

    run = Path(shutil.copytree(tiny_run, tmp_path_factory.mktemp("evaluated") / "r"))
    cli_in_process("evaluate", run, check=True)
    return run
