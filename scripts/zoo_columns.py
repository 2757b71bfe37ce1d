"""docs/zoo.md's table and plot from zoo tables of several budgets:
``python scripts/zoo_columns.py OUT.md OUT.png TABLE.json [TABLE.json ...]`` (each a ``bench --zoo`` zoo.json)."""

import json
import sys
from pathlib import Path

from cifarlab.tools.zoobench import budget_columns, budget_plot

md, png, *files = sys.argv[1:]
tables = [json.loads(Path(f).read_text()) for f in files]
Path(md).write_text(budget_columns(tables))
budget_plot(tables, Path(png))
print(Path(md).read_text(), end="")
