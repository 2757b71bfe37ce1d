"""Errors and warnings users see.

Every failure a user can cause (bad flag, missing data, broken file) raises a subclass of
:class:`CifarlabError` whose message is one line saying what is wrong and what to do. The CLI prints
that line and exits non-zero, without a traceback; the Python API lets it propagate.
"""

from __future__ import annotations

import difflib
import sys
import warnings


class CifarlabError(Exception):
    """A user-facing error: one line, what went wrong and what to do about it."""


class ConfigError(CifarlabError, ValueError):
    """An invalid setting (unknown name, out-of-range value)."""


class DataError(CifarlabError):
    """The data set cannot be found, downloaded, extracted or parsed."""


class RunError(CifarlabError):
    """A run folder is missing, incomplete or cannot be written."""


class UnsafeFileError(CifarlabError, OSError):
    """A file cifarlab was to open is a symlink (where one is not followed), a FIFO, a device or a
    socket: opening it could write through to another file, leak one, or block forever."""


class MissingPackage(CifarlabError, ImportError):
    """An optional package a feature needs is not installed (the message names the pip command)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler's stop), raised by the CLI where the process is, so a run
    ends as on Ctrl-C: completed epochs kept, summary written, the resume command printed."""

    run_status = "terminated"


class CifarlabWarning(UserWarning):
    """Something the user should know, but that does not stop the work."""


def warn(message: str) -> None:
    """Emit a one-line :class:`CifarlabWarning`."""
    warnings.warn(message, CifarlabWarning, stacklevel=2)


def unknown_name(kind: str, name: str, choices: list[str] | tuple[str, ...], hint: str = "") -> ConfigError:
    """A ConfigError for an unknown name that suggests the closest valid one."""
    close = closest_name(name, choices)
    suggestion = f" Did you mean '{close}'?" if close else ""
    listing = f" Choose one of: {', '.join(sorted(choices))}." if len(choices) <= 20 else ""
    return ConfigError(f"unknown {kind} '{name}'.{suggestion}{listing}{hint}")


def closest_name(name: str, choices: list[str] | tuple[str, ...], cutoff: float = 0.5) -> str | None:
    """The valid name most like ``name`` (similarity of the lower-cased strings, at least ``cutoff``),
    or None. Ties go to the name with more characters in the same places, so a typed-over character
    ('resnet2O') suggests 'resnet20', not 'resnet32'; then to the first in ``choices``."""
    typed = str(name).lower()

    def score(choice: str) -> tuple[float, int]:
        other = choice.lower()
        return difflib.SequenceMatcher(None, typed, other).ratio(), sum(a == b for a, b in zip(typed, other))

    scored = [(score(c), -i, c) for i, c in enumerate(choices)]
    best = max(scored, default=None)
    return best[2] if best is not None and best[0][0] >= cutoff else None


_OS_ADVICE = {
    "ENOSPC": "free some space or write elsewhere (--out DIR)",
    "EDQUOT": "free some space or write elsewhere (--out DIR)",
    "EROFS": "the file system is read-only: write elsewhere (--out DIR)",
    "EACCES": "fix the permissions or write elsewhere (--out DIR)",
    "EPERM": "fix the permissions or write elsewhere (--out DIR)",
}


def os_error_line(e: OSError) -> str:
    """One line for a filesystem fault: what failed, on which file, and what to do."""
    import errno

    name = errno.errorcode.get(e.errno or 0, "")
    where = f": {e.filename}" if e.filename else ""
    advice = _OS_ADVICE.get(name, "check the file and the disk, then try again")
    return f"{e.strerror or str(e).splitlines()[0]}{where}; {advice}"


def _one_line_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
    stream = file if file is not None else sys.stderr
    stream.write(f"cifarlab: warning: {message}\n")


def install_cli_warning_format() -> None:
    """Show warnings as a single 'cifarlab: warning: ...' line (used by the CLI)."""
    warnings.showwarning = _one_line_warning


def printable(text: str) -> str:
    """``text`` with every non-printable character (newline, CR, ESC, BEL, bidi overrides, undecodable
    bytes) written as its backslash escape, as ``repr`` does; ordinary names come back unchanged. For
    names printed on a terminal, where such characters could forge lines or send escape sequences."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
