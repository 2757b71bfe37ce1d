"""The accuracy-per-budget frontier in docs/performance.md: its table (printed as Markdown) and its plot
(frontier.png beside this file), from the run folders' summary.json files copied here as
budget-<T>-s<seed>-summary.json (`cifarlab train --time-budget T --seed S`, no model or recipe, on the
Zen 4 host), from the earlier fp32 points measured on Zen 3, listed below with their sources, and from
part 2's runs with fp32 arithmetic on the Zen 4 host (../progressive-zen4/ and ../selection-zen4/,
*-summary.json), from runs here in bf16 with a recipe named (fast-*, fast90-*, fast90-sel-*; fast89's in
../width-zen4/), and from the fp32 host's estimated points (../fp32-host-estimate-zen4/,
../width-zen4/, ../arch-zen4/ and ../fp32-frontier-zen4/, below), whose best recipe per budget makes the
estimated fp32 frontier (its own table, printed second).

    python docs/bench/frontier-zen4/plot.py
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

# Zen 3 (fp32, 2 cores): not budget runs but the best measured inside each time, from docs/performance.md
ZEN3 = [
    (139.8 / 60, [0.8332, 0.8344, 0.8357], "fast, 3 seeds (time to 82.7%: 136.7-154.8 s; final accuracies)"),
    (954 / 60, [0.8788], "fast90 with the stride-2 stem, seed 0"),
    (54.3, [0.9059, 0.9052, 0.9005], "fast90, 3 seeds, 43.1 / 54.3 / 56.3 min (median time)"),
]

runs: dict[float, list[dict]] = {}
for f in sorted(here.glob("budget-*-s*-summary.json")):
    s = json.loads(f.read_text())
    minutes = float(re.match(r"budget-(\d+(?:\.\d+)?)m-", f.name).group(1))
    runs.setdefault(minutes, []).append(s)

print(
    "| budget | recipe picked | seeds | test accuracy per seed | median | epochs trained "
    "| budget used (probe + training) |"
)
print("|---:|---|---:|---|---:|---|---|")
zen4 = []
for minutes in sorted(runs):
    rows = sorted(runs[minutes], key=lambda s: s["seed"])
    accs = [s["test_acc"] for s in rows]
    zen4.append((minutes, accs))
    used = " / ".join(f"{s['time_budget']['probe_s'] + s['wall_seconds']:.0f}" for s in rows)
    print(
        f"| {minutes:g} min | `{rows[0]['recipe']}` | {len(rows)} | "
        + " / ".join(f"{100 * a:.2f}%" for a in accs)
        + f" | **{100 * statistics.median(accs):.2f}%** | "
        + " / ".join(f"{s['epochs_trained']:.2f}" for s in rows)
        + f" | {used} s |"
    )


def points(folder: str, pattern: str, match=lambda name: True, minutes_per_s: float = 1 / 60):
    """(minutes, accuracy %) of the run summaries in ../FOLDER matching PATTERN and MATCH."""
    pts = []
    for f in sorted((here.parent / folder).glob(pattern)):
        if match(f.name):
            s = json.loads(f.read_text())
            pts.append((s["time_budget"]["budget_s"] * minutes_per_s, 100 * s["test_acc"]))
    return pts


fig, ax = plt.subplots(figsize=(10, 4.6))
for series, label, colour, marker in [
    (zen4, "Zen 4, bf16: picker, budget runs", "C0", "o"),
    ([(t, a) for t, a, _ in ZEN3], "Zen 3, fp32: best measured", "C3", "s"),
]:
    xs = [t for t, _ in series]
    ax.plot(xs, [100 * statistics.median(a) for _, a in series], color=colour, marker=marker, label=label)
    for t, accs in series:
        ax.scatter([t] * len(accs), [100 * a for a in accs], color=colour, s=12, alpha=0.5)
# the same Zen 4 host in bf16 with a recipe named (`--recipe R --time-budget T`): fast, fast90 and
# fast90-sel (fast-<T>m-s<seed>-summary.json, fast90-<T>m-..., fast90-sel-<T>m-...)
for pattern, label, colour, marker in [
    (r"fast-(\d+)m-s\d+-summary\.json", "Zen 4, bf16: fast, recipe named", "C0", "p"),
    (r"fast90-(\d+)m-s\d+-summary\.json", "Zen 4, bf16: fast90", "C8", "d"),
    (r"fast90-sel-(\d+)m-s\d+-summary\.json", "Zen 4, bf16: fast90-sel", "C6", "h"),
]:
    pts = points(here.name, "*-summary.json", lambda name, pattern=pattern: re.fullmatch(pattern, name))
    if pts:
        ax.scatter([t for t, _ in pts], [a for _, a in pts], color=colour, marker=marker, s=40, label=label)
# fast89 (fast90-sel at width 0.5) in bf16 on the same host (../width-zen4/fast90sel-w05-<T>m-bf16-s<seed>)
pts = points("width-zen4", "fast90sel-w05-*m-bf16-s*-summary.json")
ax.scatter([t for t, _ in pts], [a for _, a in pts], color="C9", marker="o", s=40, label="Zen 4, bf16: fast89")
# part 2: fp32 arithmetic (--amp off) on the same Zen 4 host: plain, progressive resizing, selective backprop
for folder, match, label, colour, marker in [
    ("progressive-zen4", lambda n: "-crop24-" not in n, "Zen 4, fp32 arithmetic", "C7", "v"),
    ("progressive-zen4", lambda n: "-crop24-" in n, "Zen 4, fp32, --crop 24 --crop-until 0.6", "C2", "^"),
    ("selection-zen4", lambda n: "-crop24-" not in n, "Zen 4, fp32, --keep-hard 0.5", "C1", "D"),
    ("selection-zen4", lambda n: "-crop24-" in n, "Zen 4, fp32, --keep-hard 0.5 + crops", "C4", "P"),
]:
    pts = points(folder, "*-summary.json", match)
    if pts:
        ax.scatter([t for t, _ in pts], [a for _, a in pts], color=colour, marker=marker, s=36, label=label)
# an fp32 host's frontier, estimated: fp32 arithmetic on this Zen 4 over step-matched budgets. A clean
# Zen 3 fast90 epoch took 275.5 s (2,479.6 s for 9), one here with --amp off 159.6 s, so a budget of B
# seconds here stands for B x 1.726 on a Zen 3 (../fp32-host-estimate-zen4/, docs/performance.md).
ZEN3_OVER_ZEN4_FP32 = 275.5 / 159.6
for match, label, colour, marker in [
    (lambda n: n.startswith("fast-"), "fp32 host, estimated: fast", "C5", "x"),
    (lambda n: "-crop24-" not in n and n.startswith("fast90-"), "fp32 host, estimated: fast90", "C7", "1"),
    (lambda n: "-crop24-" in n, "fp32 host, estimated: fast90 --keep-hard 0.5 + crops", "C9", "*"),
]:
    pts = points("fp32-host-estimate-zen4", "*-summary.json", match, ZEN3_OVER_ZEN4_FP32 / 60)
    if pts:
        ax.scatter([t for t, _ in pts], [a for _, a in pts], color=colour, marker=marker, s=44, label=label)
# the same estimate for narrower networks (../width-zen4/): fast90-sel at width 0.5 (the recipe fast89),
# and at widths 0.625 and 0.75
for match, label, colour, marker in [
    (
        lambda n: n.startswith("fast90sel-w05-695s-fp32"),
        "fp32 host, estimated: fast89 (fast90-sel, width 0.5)",
        "C3",
        "*",
    ),
    (
        lambda n: n.startswith(("fast90sel-w0625-", "fast90sel-w075-")),
        "fp32 host, estimated: fast90-sel, width 0.625/0.75",
        "C1",
        "4",
    ),
]:
    pts = points("width-zen4", "*-695s-fp32-*-summary.json", match, ZEN3_OVER_ZEN4_FP32 / 60)
    if pts:
        ax.scatter([t for t, _ in pts], [a for _, a in pts], color=colour, marker=marker, s=44, label=label)
# The fp32 host's frontier, estimated: per budget (a Zen 3's minutes), each recipe run on the step-matched
# budget here (fp32 arithmetic), its seeds' summaries (paths under docs/bench/, without -summary.json). The
# line takes the recipe with the higher median; fast89-wide (fast89 with a 256-channel last group) is
# the 20-minute point.
FP32_CANDIDATES = {
    2: {"fast": ["fp32-frontier-zen4/fast-69.5s-fp32-s0"]},
    5: {
        "fast": ["fp32-host-estimate-zen4/fast-174s-fp32-s0"]
        + [f"fp32-frontier-zen4/fast-174s-fp32-s{seed}" for seed in (1, 2)],
        "fast89": ["fp32-frontier-zen4/fast89-174s-fp32-s0"],
    },
    10: {
        "fast": ["fp32-host-estimate-zen4/fast-348s-fp32-s0"],
        "fast89": ["fp32-frontier-zen4/fast89-348s-fp32-s0"],
    },
    12.5: {
        "fast": ["fp32-frontier-zen4/fast-434s-fp32-s0"],
        "fast89-wide": ["fp32-frontier-zen4/fast89-wide-434s-fp32-s0"],
    },
    15: {
        "fast": ["fp32-frontier-zen4/fast-521s-fp32-s0"],
        "fast89-wide": ["fp32-frontier-zen4/fast89-wide-521s-fp32-s0"],
    },
    20: {
        "fast": ["fp32-host-estimate-zen4/fast-695s-fp32-s0"],
        "fast89": [f"width-zen4/fast90sel-w05-695s-fp32-s{seed}" for seed in range(3)],
        # all fifteen runs of the recipe as it stands, over four rounds (the picker's median)
        "fast89-wide": [
            f"{folder}-695s-fp32-s{seed}"
            for folder in (
                "arch-zen4/fast89-w3-256",
                "hyper-zen4/fast89-wide-ref",
                "wide-proxy-zen4/fast89-wide-guard",
                "wide-proxy-zen4/fast89-wide-oldguard",
                "crops-wd-zen4/fast89-wide-ref",
            )
            for seed in range(3)
        ],
    },
    60: {
        "fast90-sel": ["fp32-frontier-zen4/fast90-sel-2086s-fp32-s0"],
        "fast89-wide": ["fp32-frontier-zen4/fast89-wide-2086s-fp32-s0"],
    },
}
print()
print("| a Zen 3's budget | budget here (fp32) | recipe | seeds | test accuracy per seed | median | epochs trained |")
print("|---:|---:|---|---:|---|---:|---|")
fp32_line = []
for minutes, candidates in FP32_CANDIDATES.items():
    best = None
    for recipe, names in candidates.items():
        found = [here.parent / f"{n}-summary.json" for n in names]
        rows = [json.loads(f.read_text()) for f in found if f.exists()]
        if not rows:
            continue
        accs = [s["test_acc"] for s in rows]
        if best is None or statistics.median(accs) > statistics.median(best[1]):
            best = (recipe, accs)
        print(
            f"| {minutes} min | {rows[0]['time_budget']['budget_s']:g} s | `{recipe}` | {len(rows)} | "
            + " / ".join(f"{100 * a:.2f}%" for a in accs)
            + f" | {100 * statistics.median(accs):.2f}% | "
            + " / ".join(f"{s['epochs_trained']:.2f}" for s in rows)
            + " |"
        )
    if best:
        fp32_line.append((minutes, best[1]))
if fp32_line:
    xs = [t for t, _ in fp32_line]
    label = "fp32 host, estimated frontier (best recipe per budget)"
    ax.plot(xs, [100 * statistics.median(a) for _, a in fp32_line], "k--", marker="*", label=label)
    for t, accs in fp32_line:
        ax.scatter([t] * len(accs), [100 * a for a in accs], color="k", s=12, alpha=0.5)
ax.set_xscale("log")
ax.set_xticks([2, 5, 10, 15, 20, 60])
ax.set_xticklabels(["2", "5", "10", "15", "20", "60"])
ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
ax.set_xlabel("minutes (wall clock, 2 cores)")
ax.set_ylabel("test accuracy, % (JPEG-derived CIFAR-10)")
ax.set_title("Best accuracy within a time budget (median line, seeds as dots)")
ax.grid(alpha=0.3)
ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the plot: it hid points
fig.tight_layout()
fig.savefig(here / "frontier.png", dpi=110)
