"""The picker's recipes on a 2-core Intel Xeon with AMX (bf16): the table docs/performance.md quotes
(printed as Markdown), the frontier.csv rows it gives the picker (printed after it), and frontier.png,
from the run summaries queue.sh copied here as <recipe>-<T>m-s<seed>-summary.json.

    python docs/bench/frontier-amx/plot.py
"""

import json
import re
import statistics
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = Path(__file__).parent
runs: dict[tuple[str, float], list[dict]] = {}
for f in sorted(here.glob("*-summary.json")):
    recipe, minutes = re.match(r"(.+)-(\d+(?:\.\d+)?)m-s\d+-summary\.json", f.name).groups()
    runs.setdefault((recipe, float(minutes)), []).append(json.loads(f.read_text()))

print("| budget | recipe | test accuracy | seeds | epochs trained | budget used (probe + training) |")
print("|---:|---|---:|---|---:|---|")
best: dict[float, tuple[float, str]] = {}
for recipe, minutes in sorted(runs, key=lambda k: (k[1], k[0])):
    rows = sorted(runs[(recipe, minutes)], key=lambda s: s["seed"])
    accs = [s["test_acc"] for s in rows]
    med = statistics.median(accs)
    best[minutes] = max(best.get(minutes, (0.0, "")), (med, recipe))
    seeds = f"median of {len(rows)} ({', '.join(f'{100 * a:.2f}' for a in accs)})" if len(rows) > 1 else "seed 0"
    used = " / ".join(f"{s['time_budget']['probe_s'] + s['wall_seconds']:.0f}" for s in rows)
    epochs = " / ".join(f"{s['epochs_trained']:.2f}" for s in rows)
    print(f"| {minutes:g} min | `{recipe}` | {100 * med:.2f}% | {seeds} | {epochs} | {used} s |")

print("\nfrontier.csv rows:")
for recipe, minutes in sorted(runs, key=lambda k: (k[1], k[0])):
    n = len(runs[(recipe, minutes)])
    med = statistics.median(s["test_acc"] for s in runs[(recipe, minutes)])
    seeds = f"{n} seeds" if n > 1 else "seed 0"
    print(f'cpu-amx,{60 * minutes:g},{recipe},{med:.4f},no,"docs/performance.md: AMX, {recipe}, {minutes:g} min: '
          f'{100 * med:.2f}% (Intel Xeon with AMX, {seeds})"')

fig, ax = plt.subplots(figsize=(9, 4.4))
for i, recipe in enumerate(sorted({r for r, _ in runs})):
    pts = sorted((m, 100 * statistics.median(s["test_acc"] for s in runs[(r, m)])) for r, m in runs if r == recipe)
    ax.plot([m for m, _ in pts], [a for _, a in pts], marker="o", color=f"C{i}", label=f"{recipe}")
ax.set_xscale("log")
ax.set_xticks(sorted({m for _, m in runs}), [f"{m:g}" for m in sorted({m for _, m in runs})])
ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
ax.set_xlabel("time budget (minutes, log scale)")
ax.set_ylabel("test accuracy (%)")
ax.set_title("The picker's recipes on a 2-core Intel Xeon with AMX, bf16, seed 0")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(here / "frontier.png", dpi=110)
