"""Durations as people type and read them: ``--time-budget 1h30m`` in, "12.5 min" out."""

from __future__ import annotations

import math
import re

from .errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600}


_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(rf"(?:{_NUMBER}\s*h)?\s*(?:{_NUMBER}\s*m)?\s*(?:{_NUMBER}\s*s?)?")
MAX_BUDGET_S = 30 * 86400  # a month: longer is a typo, not a training


def parse_duration(text: str | float | int) -> float:
    """``"10m"``, ``"90s"``, ``"1h30m"``, ``"1.5h"`` or a number of seconds -> seconds (positive)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        # hours, minutes, seconds, each at most once and in that order ("5m5m" is a typo, not 10m)
        match = _DURATION.fullmatch(str(text).strip().lower())
        if not match or not any(match.groups()):
            raise ConfigError(f"--time-budget expects a duration such as 10m, 90s or 1h30m, got '{text}'")
        seconds = sum(float(v) * _UNITS[u] for v, u in zip(match.groups(), "hms") if v)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"--time-budget must be a positive duration, got '{text}'")
    if seconds > MAX_BUDGET_S:
        raise ConfigError(f"--time-budget is at most {MAX_BUDGET_S // 86400:.0f} days, got '{text}'")
    return seconds


def fmt_seconds(seconds: float) -> str:
    """A duration as people read it: seconds under two minutes, minutes above."""
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
