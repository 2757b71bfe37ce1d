"""The textbook training loop, the yardstick for the zoo's recipes (``cifarlab bench --zoo --baseline``).

What a competent person writes in an afternoon to train a CIFAR network in a time budget: Nesterov
SGD (momentum 0.9, weight decay 5e-4 on every parameter), batch 128, a one-cycle LR peaking at 0.2
(torch's OneCycleLR shape: cosine up from peak/25 over 30% of the run, cosine down to ~0), label
smoothing 0.1, 4-pixel zero-padded random crops and flips done on whole batches, bf16 autocast where
the CPU has native bf16 (or on CUDA), the uint8 data set held in memory, all 50,000 training images,
the last weights kept and evaluated once on the test set without test-time views.

It imports nothing of the lab's training engine (trainer, loader, augment, optim, schedules, speed,
budget): only the network (models) and the parsed data set (data), so that a recipe measured against
it is measured against plain PyTorch, not against itself. tests/test_baseline.py checks the imports.

The budget is wall-clock from the first step to the reported accuracy, as the lab's ``--time-budget``
counts it: the LR schedule is a function of the time used (so it ends exactly at the deadline on a
machine of any speed), and the deadline leaves room for the test evaluation, timed on 500 images first
(after 100 untimed ones: its first call costs far more than the rest and would leave the budget unused).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..core.fileio import atomic_write_bytes
from ..data.cifar import load_cifar10
from ..models.registry import create_model

PEAK_LR, BATCH, WEIGHT_DECAY, LABEL_SMOOTHING, WARMUP = 0.2, 128, 5e-4, 0.1, 0.3


def one_cycle(progress: float) -> float:
    """OneCycleLR's factor of the peak LR at ``progress`` (0..1) of the run."""
    if progress < WARMUP:
        return 1 / 25 + (1 - 1 / 25) * (1 - math.cos(math.pi * progress / WARMUP)) / 2
    return (1 + math.cos(math.pi * min(1.0, (progress - WARMUP) / (1 - WARMUP)))) / 2


def crop_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 32x32 crops of the zero-padded (40x40) uint8 batch, half of them mirrored: (N, 3, 32, 32)."""
    n = len(x)
    padded = F.pad(x, (4, 4, 4, 4))
    dy, dx = torch.randint(0, 9, (2, n, 1), generator=gen)
    span = torch.arange(32)
    rows, cols = (dy + span)[:, None, :, None], (dx + span)[:, None, None, :]  # (N, 1, 32, 1), (N, 1, 1, 32)
    out = padded[torch.arange(n)[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def evaluate(net, x, y, device, dtype) -> float:
    net.eval()
    hits = 0
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        for i in range(0, len(x), 1000):
            hits += (net(x[i : i + 1000].to(device).float() / 255).argmax(1) == y[i : i + 1000].to(device)).sum()
    net.train()
    return int(hits) / len(x)


def train(model: str, budget_s: float, x, y, x_test, y_test, seed=0, device="cpu", **model_kwargs) -> dict:
    """Train ``model`` (a registered name, with its options) on uint8 ``x`` for ``budget_s`` seconds."""
    dev = torch.device(device)
    bf16 = dev.type == "cuda" or bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    dtype = torch.bfloat16 if bf16 else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = create_model(model, num_classes=10, **model_kwargs).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=PEAK_LR, momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY)
    t0 = time.perf_counter()
    evaluate(net, x_test[:100], y_test[:100], dev, dtype)  # untimed: the first call picks the kernels
    e0 = time.perf_counter()
    evaluate(net, x_test[:500], y_test[:500], dev, dtype)
    eval_s = (time.perf_counter() - e0) * len(x_test) / 500
    train_s = max(budget_s - (time.perf_counter() - t0) - 1.1 * eval_s, 1e-3)
    start, steps, seen = time.perf_counter(), 0, 0
    while (progress := (time.perf_counter() - start) / train_s) < 1:
        for idx in torch.randperm(len(x), generator=gen).split(BATCH):
            if (progress := (time.perf_counter() - start) / train_s) >= 1:
                break
            for group in opt.param_groups:
                group["lr"] = PEAK_LR * one_cycle(progress)
            xb = crop_flip(x[idx], gen).to(dev).float() / 255
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(net(xb).float(), y[idx].to(dev), label_smoothing=LABEL_SMOOTHING)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps, seen = steps + 1, seen + len(idx)
    trained_s = time.perf_counter() - start
    acc = evaluate(net, x_test, y_test, dev, dtype)
    return {
        "model": model,
        "test_acc": acc,
        "epochs": round(seen / len(x), 4),
        "steps": steps,
        "train_s": round(trained_s, 2),
        "used_s": round(time.perf_counter() - t0, 2),
        "budget_s": budget_s,
        "seed": seed,
        "amp": "bf16" if bf16 else "fp32",
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m cifarlab.tools.baseline --model resnet20 --budget 600 [--json OUT]``: one textbook run."""
    p = argparse.ArgumentParser(prog="python -m cifarlab.tools.baseline", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--budget", type=float, required=True, help="seconds, first step to reported accuracy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--data", help="CIFAR-10 archive or folder (default: as cifarlab finds it)")
    p.add_argument("--train-limit", type=int, help="train on the first N images (tests)")
    p.add_argument("--test-limit", type=int, help="test on the first N images (tests)")
    p.add_argument("--json", type=Path, help="write the result here")
    a = p.parse_args(argv)
    if not (a.budget > 0 and math.isfinite(a.budget)):
        p.error(f"--budget must be a positive number of seconds, got {a.budget}")
    if a.threads:
        torch.set_num_threads(a.threads)
    d = load_cifar10(a.data, progress=False)
    n, m = a.train_limit or len(d.train_x), a.test_limit or len(d.test_x)
    result = train(a.model, a.budget, d.train_x[:n], d.train_y[:n], d.test_x[:m], d.test_y[:m], a.seed)
    text = json.dumps(result, indent=1)
    if a.json:
        atomic_write_bytes(a.json, (text + "\n").encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
