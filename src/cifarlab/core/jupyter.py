"""What changes inside a Jupyter kernel: detecting one, progress bars (a widget when ipywidgets is
installed, plain text otherwise), user errors shown as their one line, and the small HTML pieces the
``_repr_html_`` of a run, a history and a comparison are made of (every value escaped).

Nothing here imports IPython, ipywidgets or pandas unless it is already loaded or asked for: the CLI
and a plain ``import cifarlab`` pay nothing for them.
"""

from __future__ import annotations

import base64
import html
import io
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import CifarlabError, MissingPackage

# -- the kernel ------------------------------------------------------------------------------------


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a ZMQ shell: JupyterLab, Notebook, VS Code, nbclient).

    A kernel has always imported IPython before it runs a cell, so a process without IPython in
    ``sys.modules`` is not one, and is not made to import it here."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def progress_bar(*, disable: bool | None = None, **kwargs: Any):
    """A tqdm bar, a drop-in for ``tqdm(...)`` with its ``disable`` (True: no bar; None: a bar only
    on a terminal; False: always a bar). In a Jupyter kernel the bar is the notebook widget when
    ipywidgets is installed, and a plain text bar otherwise (never tqdm.auto's 'IProgress not found'
    warning); None counts as shown there, since a kernel's stderr is never a terminal. Text bars go
    to stderr unless ``file`` says otherwise."""
    from tqdm.std import tqdm

    if disable is not True and in_notebook():
        if _widgets_available():
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm(disable=False, **kwargs)
        disable = False
    kwargs.setdefault("file", sys.stderr)
    return tqdm(disable=disable, **kwargs)


def _one_line_error(shell, etype, value, tb, tb_offset=None) -> list[str]:  # noqa: ARG001
    """IPython custom-exception handler: a CifarlabError is shown as its one line (as the CLI prints
    it), in red like IPython's own last line; ``%tb`` still shows where it was raised."""
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = value
    stb = [f"\x1b[0;31m{etype.__name__}\x1b[0m: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def show_user_errors_briefly(shell=None) -> bool:
    """In a kernel, show a :class:`CifarlabError` raised by a cell as its one line instead of a
    traceback through cifarlab's modules. The cell still fails (the exception is raised; the kernel
    lives on). Leaves a shell that already has custom exception handlers alone. Returns True if the
    handler is installed."""
    if shell is None:
        if not in_notebook():
            return False
        shell = sys.modules["IPython"].get_ipython()
    current = getattr(shell, "custom_exceptions", ())
    if current == (CifarlabError,):
        return True
    if current:
        return False
    shell.set_custom_exc((CifarlabError,), _one_line_error)
    return True


def require_pandas(what: str):
    """The pandas module, or a one-line :class:`MissingPackage` naming the pip command."""
    try:
        import pandas
    except ImportError:
        raise MissingPackage(
            f"{what} needs pandas: pip install pandas (or the notebook extra: pip install -e '.[notebook]')"
        ) from None
    return pandas


# -- HTML ------------------------------------------------------------------------------------------

_STYLE = "border-collapse:collapse;font-size:0.9em"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd"


def esc(value: Any) -> str:
    """A value as HTML text: quotes and angle brackets escaped, None and NaN as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return html.escape(str(value), quote=True)


def fmt_value(key: str, value: Any) -> str:
    """A metric for people: accuracies as percentages, losses to 4 places, times in seconds; the
    text of anything unexpected (a hand-edited summary) as it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if key.endswith("_acc") or key == "test_acc_at_best":
        return f"{100 * value:.2f}%"
    if key.endswith("_loss"):
        return f"{value:.4f}"
    if key == "lr":
        return f"{value:.2e}"
    if key.endswith("seconds"):
        return f"{value:.1f} s" if value < 100 else f"{value:,.0f} s"
    if key == "parameters":
        return f"{int(value):,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def html_table(
    columns: Sequence[str],
    rows: Iterable[dict[str, Any]],
    fmt: Callable[[str, Any], str] = fmt_value,
    *,
    caption: str = "",
    max_height: int | None = None,
) -> str:
    """An HTML table of ``rows`` (dicts) in ``columns``: headers and every cell escaped."""
    head = "".join(f'<th style="{_CELL};text-align:right">{esc(c)}</th>' for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f'<td style="{_CELL};text-align:right">{esc(fmt(c, row.get(c)))}</td>' for c in columns)
        + "</tr>"
        for row in rows
    )
    cap = f'<caption style="text-align:left;font-weight:bold">{esc(caption)}</caption>' if caption else ""
    table = f'<table style="{_STYLE}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    if max_height is not None:
        return f'<div style="max-height:{int(max_height)}px;overflow-y:auto">{table}</div>'
    return table


def figure_html(fig, dpi: int = 80) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (no file, no pyplot)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%"/>'
