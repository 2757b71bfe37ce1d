"""Checks of single values a user gives: a run or study name, a seed, a count of cores or images."""

from __future__ import annotations

import re

from ..core.errors import ConfigError

MAX_NAME = 100  # characters in a run or study name (one folder name, with room for a '-2' suffix)
_NAME = re.compile(r"\w[\w.+=@,-]*")


def check_name(name: str, flag: str = "--name") -> str:
    """A run or study name is one folder name: no path separators, no leading '.' or '-', sane length."""
    if (
        not isinstance(name, str)
        or len(name) > MAX_NAME
        or len(name.encode()) > 2 * MAX_NAME
        or not _NAME.fullmatch(name)
    ):
        shown = name if not isinstance(name, str) or len(name) <= 40 else name[:40] + "..."
        raise ConfigError(
            f"{flag} {shown!r} is not a valid name: use one folder name of at most {MAX_NAME} letters, digits "
            "and . _ - + = @ , (starting with a letter or digit; no '/')"
        )
    return name


MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit number


def check_seed(flag: str, seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{flag} must be a whole number from 0 to 2**63-1, got {seed!r}")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's or taskset's share)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_image_limit(flag: str, n: int | None) -> None:
    """``--train-limit`` / ``--test-limit``: None (all images) or a positive count."""
    if n is not None and n <= 0:
        raise ConfigError(f"{flag} must be a positive number of images, got {n}")
