"""Print the docs/seed-parity.md table from the run folders that scripts/seed_parity.sh wrote.

Usage: python scripts/parity_table.py RUNS_DIR
A run without summary.json (still running, or stopped) is shown from its metrics.csv so far: "stopped".
"""

import json
import statistics
import sys
from pathlib import Path

from cifarlab.runs.store import read_metrics

NOTEBOOK = {  # recipe: (notebook best, notebook final) as DEVELOPERS.md reports them
    "seed-softmax": ("'it runs'", ""),
    "seed-mlp-first": ("~45%", ""),
    "seed-mlp-final": ("53.6%", ""),
    "seed-cnn1": ("~65%", "(train ~97%)"),
    "seed-cnn2": ("75.2%", ""),
    "seed-cnn3": ("~82%", ""),
    "seed-cnn3-wide": ("83.0% (ep 13)", "82.7% (ep 23)"),
}


def main(runs: Path) -> None:
    print(
        "| recipe | notebook best | notebook final | ours best test (epoch) | ours final test | final train "
        "| epochs run | s/epoch here | status |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for recipe, (nb_best, nb_final) in NOTEBOOK.items():
        run = runs / recipe
        if not (run / "metrics.csv").exists():
            print(f"| {recipe} | {nb_best} | {nb_final} | not run | | | | | |")
            continue
        rows = read_metrics(run / "metrics.csv")
        summary_file = run / "summary.json"
        status = json.loads(summary_file.read_text()).get("status", "?") if summary_file.exists() else "stopped"
        cfg = json.loads((run / "config.json").read_text())
        if not rows:
            print(f"| {recipe} | {nb_best} | {nb_final} | no epoch yet | | | | | {status} |")
            continue
        best = max(rows, key=lambda r: r["test_acc"])
        last = rows[-1]
        secs = statistics.median(r["seconds"] for r in rows)
        done = f"{len(rows)}/{cfg['train']['epochs']}"
        print(
            f"| {recipe} | {nb_best} | {nb_final} | {100 * best['test_acc']:.2f}% ({best['epoch']}) | "
            f"{100 * last['test_acc']:.2f}% | {100 * last['train_acc']:.2f}% | {done} | {secs:.1f} | {status} |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
