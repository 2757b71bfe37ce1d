"""Test accuracy of saved runs under weightings of 18 test-time views (docs/performance.md, "`fast89-wide`'s
learning rate, label smoothing and kept share, and more test-time views").

Usage: CIFARLAB_DATA=../shared/data/cifar10 python docs/bench/hyper-zen4/tta_views.py RUN_DIR...

Each test image is shifted by one pixel in each of 9 ways (reflect padding, as `--tta flip_translate`
pads) and mirrored: 18 forward passes per image, computed once per run; the weightings below are then
scored from those logits. The 6-view row is `flip_translate` itself, so it reproduces the run's summary.
"""

import sys

import torch
from torch import nn

from cifarlab.data import load_cifar10
from cifarlab.engine import as_float_images
from cifarlab.runs import load_run
from cifarlab.splits import first_test_images

SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
DIAGONALS = [(-1, -1), (1, 1), (-1, 1), (1, -1)]
# name -> {shift: weight}; each shift stands for the pair (the shifted image and its mirror), except "none"
SCHEMES = {
    "1 (none)": None,
    "2 (flip)": {(0, 0): 1.0},
    "6 (flip_translate)": {(0, 0): 0.5, (-1, -1): 0.25, (1, 1): 0.25},
    "10 (half + diagonals)": {(0, 0): 0.5, **dict.fromkeys(DIAGONALS, 0.125)},
    "10 (half + axes)": {(0, 0): 0.5, (-1, 0): 0.125, (1, 0): 0.125, (0, -1): 0.125, (0, 1): 0.125},
    "10 (fifths, diagonals)": {(0, 0): 0.2, **dict.fromkeys(DIAGONALS, 0.2)},
    "18 (equal)": dict.fromkeys(SHIFTS, 1 / 9),
    "18 (half + sixteenths)": {**dict.fromkeys(SHIFTS, 0.5 / 8), (0, 0): 0.5},
}


@torch.no_grad()
def view_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(18, N, classes): for each shift in SHIFTS, the shifted images' logits, then their mirrors'."""
    out = []
    for i in range(0, len(images), 1000):
        x = as_float_images(images[i : i + 1000]).contiguous(memory_format=torch.channels_last)
        padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
        views = []
        for dy, dx in SHIFTS:
            v = padded[..., 1 + dy : 33 + dy, 1 + dx : 33 + dx]
            views += [model(v), model(v.flip(-1))]
        out.append(torch.stack(views))
    return torch.cat(out, dim=1)


def score(logits: torch.Tensor, labels: torch.Tensor, weights: dict | None) -> float:
    if weights is None:
        combined = logits[2 * SHIFTS.index((0, 0))]
    else:
        combined = sum(
            w * 0.5 * (logits[2 * SHIFTS.index(s)] + logits[2 * SHIFTS.index(s) + 1]) for s, w in weights.items()
        )
    return (combined.argmax(1) == labels).double().mean().item()


def main() -> None:
    test = first_test_images(load_cifar10(None), None)
    runs = sys.argv[1:]
    accs = {}
    for run_dir in runs:
        model = load_run(run_dir).model.eval().to(memory_format=torch.channels_last)
        logits = view_logits(model, test.x)
        accs[run_dir] = {name: score(logits, test.y, w) for name, w in SCHEMES.items()}
    print("| views | " + " | ".join(runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for name in SCHEMES:
        print(f"| {name} | " + " | ".join(f"{100 * accs[r][name]:.2f}%" for r in runs) + " |")


if __name__ == "__main__":
    main()
