"""``cifarlab bench``: speed claims live here, measured side by side, never in timed tests.

Throughput compares, for the same model, batch size and process, our training step (resident
tensors, index slicing, channels_last, autocast) against the seed notebook's loop (TensorDataset +
DataLoader, NCHW, fp32, a ``.item()`` per step), alternating the two for several rounds so that
machine noise hits both alike. Time-to-accuracy trains a recipe with ``--target-acc`` over seeds.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config.schema import TrainConfig
from ..core.errors import ConfigError
from ..core.fileio import atomic_write_bytes, atomic_write_json
from ..core.host import host_info, resolve_device
from ..models.registry import create_model
from ..training.step import evaluate
from ..training.trainer import Trainer


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "median": statistics.median(values),
        "n": len(values),
    }


def median_counting_misses(runs: Sequence[dict[str, Any]]) -> float | None:
    """Median time to target over all seeds, a seed that never reached it counting as infinitely
    slow: the figure a "median of N seeds" target is judged on. None when half or more missed."""
    median = statistics.median(r["seconds_to_target"] if r["reached"] else math.inf for r in runs)
    return None if math.isinf(median) else median


def _synthetic(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.randint(
        0, 10, (n,), generator=g
    )


def ours_train_img_s(
    model_name: str,
    batch_size: int,
    steps: int,
    device: torch.device,
    cfg: TrainConfig,
    model_kwargs: dict[str, Any] | None = None,
) -> float:
    """Images/s of the real Trainer loop: one epoch of ``steps`` batches, its ``seconds`` column."""
    x, y = _synthetic(batch_size * steps)
    torch.manual_seed(0)
    net = create_model(model_name, **(model_kwargs or {}))
    cfg = replace(cfg, epochs=1, batch_size=batch_size, device=str(device), eval_from=2)
    trainer = Trainer(net, config=cfg, progress=False, log=None)
    trainer.train(x, y)
    return len(x) / trainer.history[0]["seconds"]


def seed_loop_train_img_s(
    model_name: str, batch_size: int, steps: int, device: torch.device, model_kwargs: dict[str, Any] | None = None
) -> float:
    """Images/s of the notebook's loop: float tensors in a TensorDataset, a shuffling DataLoader,
    NCHW fp32, and the per-step ``loss.item()`` / accuracy bookkeeping a plotting trainer does."""
    x, y = _synthetic(batch_size * steps)
    torch.manual_seed(0)
    net = create_model(model_name, **(model_kwargs or {})).to(device)
    data = torch.utils.data.TensorDataset(x.float() / 255, y)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    total_loss, hits = 0.0, 0
    t0 = time.perf_counter()
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        out = net(xb)
        loss = loss_fn(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total_loss += loss.item() * len(yb)
        hits += (out.argmax(1) == yb).sum().item()
    return len(x) / (time.perf_counter() - t0)


def eval_img_s(
    model_name: str,
    batch_size: int,
    n: int,
    device: torch.device,
    cfg: TrainConfig | None,
    model_kwargs: dict[str, Any] | None = None,
) -> float:
    """Images/s of evaluation; ``cfg`` None: the seed style (fp32, NCHW), else ours (autocast, channels_last)."""
    from ..training.device import resolve_amp, resolve_channels_last

    x, y = _synthetic(n, seed=1)
    net = create_model(model_name, **(model_kwargs or {})).to(device)
    amp = resolve_amp(cfg.amp, device) if cfg else None
    cl = resolve_channels_last(cfg.channels_last, net) if cfg else False
    if cl:
        net = net.to(memory_format=torch.channels_last)
    evaluate(net, x[:batch_size], y[:batch_size], batch_size, amp_dtype=amp, channels_last=cl)  # warm-up
    t0 = time.perf_counter()
    evaluate(net, x.to(device), y.to(device), batch_size, amp_dtype=amp, channels_last=cl)
    return n / (time.perf_counter() - t0)


def throughput(
    models: Sequence[str],
    batch_size: int = 256,
    steps: int = 20,
    rounds: int = 3,
    device: str = "auto",
    log: Callable[[str], None] = print,
    model_kwargs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Ours vs the seed loop for each model, alternated over ``rounds``; mean and std of images/s.
    ``model_kwargs`` (e.g. fastnet's ``widths``) go to every model built."""
    for flag, value in (("--batch-size", batch_size), ("--steps", steps), ("--rounds", rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{flag} must be a whole number of at least 1, got {value}")
    kw = dict(model_kwargs or {})
    dev = resolve_device(device)
    cfg = TrainConfig(optimizer="sgd", lr=0.01, amp="auto", channels_last="auto")
    results = []
    for name in models:
        # One untimed pass of each warms up allocator and kernel caches.
        ours_train_img_s(name, batch_size, 2, dev, cfg, kw)
        seed_loop_train_img_s(name, batch_size, 2, dev, kw)
        ours, seed = [], []
        for _ in range(rounds):
            ours.append(ours_train_img_s(name, batch_size, steps, dev, cfg, kw))
            seed.append(seed_loop_train_img_s(name, batch_size, steps, dev, kw))
        n_eval = batch_size * max(steps // 2, 2)
        ours_eval = [eval_img_s(name, max(batch_size, 500), n_eval, dev, cfg, kw) for _ in range(rounds)]
        seed_eval = [eval_img_s(name, batch_size, n_eval, dev, None, kw) for _ in range(rounds)]
        row = {
            "model": name,
            "model_kwargs": kw,
            "batch_size": batch_size,
            "device": str(dev),
            "ours_train_img_s": statistics.fmean(ours),
            "ours_train_img_s_std": _stats(ours)["std"],
            "seed_loop_train_img_s": statistics.fmean(seed),
            "seed_loop_train_img_s_std": _stats(seed)["std"],
            "speedup": statistics.fmean(ours) / statistics.fmean(seed),
            "ours_eval_img_s": statistics.fmean(ours_eval),
            "seed_loop_eval_img_s": statistics.fmean(seed_eval),
            "rounds": rounds,
            "steps_per_round": steps,
        }
        log(
            f"{name:<10} bs {batch_size}: train ours {row['ours_train_img_s']:7.0f} "
            f"± {row['ours_train_img_s_std']:.0f} img/s, seed loop {row['seed_loop_train_img_s']:7.0f} "
            f"± {row['seed_loop_train_img_s_std']:.0f} (x{row['speedup']:.2f}); "
            f"eval ours {row['ours_eval_img_s']:.0f}, seed {row['seed_loop_eval_img_s']:.0f} img/s"
        )
        results.append(row)
    return results


def time_to(
    target: float,
    recipe: str,
    seeds: int,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    first_seed: int = 0,
) -> dict[str, Any]:
    """Train ``recipe`` with ``--target-acc target`` for ``seeds`` seeds from ``first_seed``; time-to-target stats.

    ``first_seed`` lets a long benchmark be split over machines or sessions without repeating seeds.
    """
    from ..config.overrides import apply_overrides
    from ..config.recipes import get_recipe
    from ..data.cifar import load_cifar10
    from ..experiment import run_experiment

    if seeds < 1 or first_seed < 0:
        raise ConfigError("--seeds must be at least 1 and --first-seed at least 0")
    base = apply_overrides(get_recipe(recipe).config(), {**(overrides or {}), "target_acc": target})
    arrays = load_cifar10(base.data.data, offline=base.data.offline, progress=False)  # outside the timed section
    runs = []
    for seed in range(first_seed, first_seed + seeds):
        cfg = copy.deepcopy(base)
        cfg.train.seed = seed
        cfg.name = cfg.name or f"bench-{recipe}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        run = run_experiment(cfg, arrays=arrays, progress=False, report=False, log=lambda m: None)
        s = run.summary
        runs.append(
            {
                "seed": seed,
                "seconds_to_target": s.get("seconds_to_target"),
                "reached": s.get("seconds_to_target") is not None,
                "final_test_acc": s["final_test_acc"],
                "epochs_trained": s["epochs_trained"],
                "wall_seconds": s["wall_seconds"],
                "run_dir": str(run.path),
            }
        )
        r = runs[-1]
        log(
            f"{recipe} seed {seed}: "
            + (
                f"{target:.3f} reached in {r['seconds_to_target']:.1f}s"
                if r["reached"]
                else f"target not reached ({100 * r['final_test_acc']:.2f}%)"
            )
            + f", {r['epochs_trained']:g} epochs"
        )
    times = [r["seconds_to_target"] for r in runs if r["reached"]]
    return {
        "recipe": recipe,
        "target_acc": target,
        "seeds": seeds,
        "first_seed": first_seed,
        "reached": len(times),
        "seconds_to_target": _stats(times) if times else None,
        "median_seconds_all_seeds": median_counting_misses(runs),
        "final_test_acc": _stats([r["final_test_acc"] for r in runs]),
        "epochs": _stats([r["epochs_trained"] for r in runs]),
        "runs": runs,
    }


def _model_label(row: dict[str, Any]) -> str:
    options = ", ".join(f"{k}={v}" for k, v in row.get("model_kwargs", {}).items())
    return f"{row['model']} ({options})" if options else row["model"]


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# cifarlab bench — {report['device_name']} ({report['device']}), torch {report['torch_version']}", ""]
    if report.get("throughput"):
        lines += [
            "| model | batch | ours train img/s | seed loop train img/s | speed-up "
            "| ours eval img/s | seed eval img/s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in report["throughput"]:
            lines.append(
                f"| {_model_label(r)} | {r['batch_size']} "
                f"| {r['ours_train_img_s']:.0f} ± {r['ours_train_img_s_std']:.0f} | "
                f"{r['seed_loop_train_img_s']:.0f} ± {r['seed_loop_train_img_s_std']:.0f} | {r['speedup']:.2f}x | "
                f"{r['ours_eval_img_s']:.0f} | {r['seed_loop_eval_img_s']:.0f} |"
            )
        lines.append("")
    if report.get("time_to"):
        t = report["time_to"]
        lines += [
            "| recipe | target | reached | median s, all seeds | seconds mean ± std | median | min | max | "
            "final acc | epochs |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        s, a, e = t["seconds_to_target"], t["final_test_acc"], t["epochs"]
        secs = (
            f"{s['mean']:.1f} ± {s['std']:.1f} | {s['median']:.1f} | {s['min']:.1f} | {s['max']:.1f}"
            if s
            else "– | – | – | –"
        )
        overall = t.get("median_seconds_all_seeds")
        overall = f"{overall:.1f}" if overall is not None else "not reached"
        lines.append(
            f"| {t['recipe']} | {t['target_acc']:.3f} | {t['reached']}/{t['seeds']} | {overall} | {secs} | "
            f"{100 * a['mean']:.2f}% | {e['mean']:.1f} |"
        )
        lines.append("")
        lines.append(
            "'median s, all seeds' counts a seed that missed the target as never reaching it; "
            "the other time columns cover the seeds that reached it."
        )
        lines.append("")
    return "\n".join(lines)


def write_report(out: str | Path, report: dict[str, Any]) -> Path:
    from ..runs.folder import check_writable

    out = check_writable(out)
    atomic_write_json(out / "bench.json", report)
    atomic_write_bytes(out / "bench.md", markdown(report).encode())
    return out


def environment(device: str = "auto") -> dict[str, Any]:
    return {**host_info(resolve_device(device)), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
