"""The per-family LR searches as a Markdown table: `python docs/bench/zoo-tune-zen3/table.py`.

Reads each study's trials.csv and its trials' summaries (validation accuracy chose; test accuracy is
printed beside it and was never used)."""

import csv
import json
from pathlib import Path

here = Path(__file__).parent / "tune"
print("| model | epochs (of 45,000 images) | peak LR | validation accuracy | test accuracy | trial seconds |")
print("|---|---:|---:|---:|---:|---:|")
for study in sorted(p for p in here.iterdir() if p.is_dir()):
    rows = list(csv.DictReader(open(study / "trials.csv"))) if (study / "trials.csv").exists() else []
    done = [r for r in rows if r["state"] == "COMPLETE"]
    best = max((float(r["value"]) for r in done), default=None)
    for r in sorted(done, key=lambda r: float(r["lr"])):
        config = json.loads((study / f"trial-{int(r['number']):04d}" / "config.json").read_text())
        mark = "**" if float(r["value"]) == best else ""
        print(
            f"| {config['model']} | {config['train']['epochs']:g} | {float(r['lr']):g} | "
            f"{mark}{100 * float(r['value']):.2f}%{mark} | {100 * float(r['test_acc']):.2f}% | {float(r['seconds']):.0f} |"
        )
