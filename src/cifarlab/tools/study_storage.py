"""Where studies live: SQLite files or PostgreSQL, opened safely by concurrent workers (a lost race to
create the schema is retried), with credentials kept out of messages."""

from __future__ import annotations

import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

from ..core.errors import CifarlabError, ConfigError

# Optuna's heartbeat (integers, seconds): every worker must use the same values, or one with a shorter
# grace would fail another's live trials. The grace allows two missed beats (a busy database).
HEARTBEAT_INTERVAL_S = 60
GRACE_PERIOD_S = 180


class TuneError(CifarlabError):
    """A study that cannot be used as asked."""


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError("tuning needs Optuna: pip install optuna (a dependency of cifarlab)") from None
    return optuna


def default_storage(out: str | Path, study: str) -> str:
    folder = Path(out) / "tune"
    return f"sqlite:///{(folder / f'{study}.db').resolve()}"


def open_storage(url: str):
    """An Optuna RDB storage for ``url`` with heartbeats on (a dead worker's trial becomes FAIL), or
    one line saying why it cannot be used."""
    optuna = require_optuna()
    from sqlalchemy.exc import IntegrityError

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(6):
        try:
            with warnings.catch_warnings():  # "heartbeat is experimental": in Optuna since 2.9, and ours to watch
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=_engine_kwargs(url),
                    heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=GRACE_PERIOD_S,
                )
        except Exception as e:  # noqa: BLE001 - sqlalchemy/driver errors of many kinds, one answer
            error: Exception = e
            if not (isinstance(e, IntegrityError) or _lost_schema_race(getattr(e, "orig", None))):
                break  # anything else will not go away by retrying
            time.sleep(0.2 * (attempt + 1))
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise TuneError(
        f"cannot use the study storage {_redact(url)}: {reason}; check that the database server is running "
        "and the URL (e.g. postgresql://user:password@host:5432/dbname) is right"
    )


# SQLSTATEs of "that table / type / key already exists" (PostgreSQL's messages are translated, its codes are not).
_DUPLICATE_SQLSTATES = {"42P07", "42710", "23505"}


def _lost_schema_race(driver_error: BaseException | None) -> bool:
    """Whether a driver error says another worker created Optuna's schema first.

    Several workers started at once on an empty database all create Optuna's tables; the losers see
    a duplicate table, type (PostgreSQL's enum studydirection) or key. The schema is there now, so
    trying again works. PostgreSQL errors are told by their SQLSTATE; SQLite has no such code, but
    its messages are always English ("table studies already exists").
    """
    code = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if code is not None:
        return code in _DUPLICATE_SQLSTATES
    return isinstance(driver_error, sqlite3.OperationalError) and "already exists" in str(driver_error)


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}


def _redact(url: str) -> str:
    """The URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{tail}" if ":" in userinfo else url


def load_study(name: str, storage_url: str):
    optuna = require_optuna()
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise TuneError(
            f"no study '{name}' in {_redact(storage_url)}; run 'cifarlab tune --study {name}' first, "
            "or pass the study's --storage URL"
        ) from None
