"""Run notebooks/quickstart.ipynb top to bottom in a fresh kernel and store it with its outputs.

Usage, from the repository root, with the dev extra installed:
    CIFARLAB_DATA=PATH .venv/bin/python scripts/run_notebook.py [--timeout 900]

The kernel starts in notebooks/ (run folders go to notebooks/runs/, which git ignores). The stored
outputs name files relative to notebooks/: the checkout's absolute path, and its parent's, are
written as ``../`` and ``../../`` (warnings name their source file, and the data set is reported by its
resolved path), so no path of this machine is committed; tests/test_notebook.py checks that, and
that every cell ran in order.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def relative_paths(value: Any, root: Path) -> Any:
    """``value`` (a cell output's JSON) with ``root/`` written as ``../`` and ``root.parent/`` as ``../../``;
    images (base64) are left alone."""
    if isinstance(value, str):
        return value.replace(f"{root}/", "../").replace(f"{root.parent}/", "../../")
    if isinstance(value, list):
        return [relative_paths(v, root) for v in value]
    if isinstance(value, dict):
        return {k: (v if k.startswith("image/") else relative_paths(v, root)) for k, v in value.items()}
    return value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    args = p.parse_args()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    t0 = time.perf_counter()
    nbclient.NotebookClient(
        nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    root = NOTEBOOK.parents[1]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(relative_paths(dict(o), root)) for o in cell.outputs]
    nbformat.write(nb, NOTEBOOK)
    print(f"{NOTEBOOK.name}: ran in {time.perf_counter() - t0:.0f} s, outputs stored")


if __name__ == "__main__":
    main()
