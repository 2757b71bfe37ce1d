"""The table in docs/robustness.md from the runs' summary.json, config.json and robustness.json (copied
beside this file as <run>-summary.json, <run>-config.json, <run>-robustness.json)."""

import json
from pathlib import Path

here = Path(__file__).parent
ORDER = ["fast", "fast90", "resnet20", "cnn3_wide"]
GROUPS = {
    "noise": ["gaussian_noise", "shot_noise", "impulse_noise"],
    "blur": ["defocus_blur", "glass_blur", "motion_blur", "zoom_blur"],
    "weather": ["snow", "frost*", "fog", "brightness"],
    "digital": ["contrast", "elastic_transform", "pixelate", "jpeg_compression"],
}
rows = []
for rob in here.glob("*-robustness.json"):
    name = rob.name.removesuffix("-robustness.json")
    base, _, variant = name.rpartition("-")
    rows.append((ORDER.index(base), variant != "base", name))
print(
    "| run | AugMix | epochs | threads | test acc (10,000, training's eval) | robustness eval | clean | mCA (75 pairs) "
    "| drop | noise | blur | weather | digital | training time |"
)
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for _, aug, name in sorted(rows):
    r = json.loads((here / f"{name}-robustness.json").read_text())
    s = json.loads((here / f"{name}-summary.json").read_text())
    c = json.loads((here / f"{name}-config.json").read_text())
    pc = r["per_corruption"]
    g = {k: 100 * sum(pc[x] for x in v) / len(v) for k, v in GROUPS.items()}
    print(
        f"| {name} | {'yes' if aug else 'no'} | {s['epochs_trained']} | {c['train']['threads'] or 2} "
        f"| {100 * s['test_acc']:.2f}% | {r['images']:,} images, {r['precision']}, {r['tta']} "
        f"| {100 * r['clean_acc']:.2f}% | **{100 * r['mean_corruption_acc']:.2f}%** | {100 * r['drop_from_clean']:.2f} "
        f"| {g['noise']:.1f} | {g['blur']:.1f} | {g['weather']:.1f} | {g['digital']:.1f} | {s['wall_seconds']:.0f} s |"
    )
