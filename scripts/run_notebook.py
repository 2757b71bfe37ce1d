"""Run notebooks/quickstart.ipynb top to bottom in a fresh kernel and store it with its outputs.

Usage, from the repository root, with the dev extra installed:
    CIFARLAB_DATA=PATH .venv/bin/python scripts/run_notebook.py [--timeout 900]

The kernel starts in notebooks/ (run folders go to notebooks/runs/, which git ignores). Give PATH
relative to notebooks/ (e.g. ../../shared/data/cifar10) so that no absolute path of this machine
lands in the stored outputs; tests/test_notebook.py checks that, and that every cell ran in order.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    args = p.parse_args()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    t0 = time.perf_counter()
    nbclient.NotebookClient(
        nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    nbformat.write(nb, NOTEBOOK)
    print(f"{NOTEBOOK.name}: ran in {time.perf_counter() - t0:.0f} s, outputs stored")


if __name__ == "__main__":
    main()
