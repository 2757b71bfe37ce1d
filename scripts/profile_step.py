"""Where a training step's time goes: an op profile and each convolution's rate.

Usage: python scripts/profile_step.py [--model fastnet] [--model-arg KEY=VALUE ...] [--batch-size 512]
                                      [--pixels 32] [--nchw] [--bf16] [--compile] [--steps 2]
Runs the calls the Trainer makes per step (forward, label-smoothed cross-entropy, backward, Nesterov
SGD step) on random images (--pixels 24: the size of --crop 24's steps), channels_last unless --nchw,
fp32 unless --bf16, eager unless --compile (torch.compile of the whole step; its compilation, timed
apart, is left out of the rate). Prints images/s, the
torch.profiler table by self CPU time for one step, then every Conv2d of the model timed alone
(forward, and forward + backward minus forward) in GFLOP/s, in bf16 tensors with --bf16 (what autocast
hands the convolutions). docs/performance.md quotes its output.
"""

import argparse
import time
from contextlib import nullcontext

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from cifarlab.cli.app import parse_key_values
from cifarlab.models.registry import create_model


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up: oneDNN picks and caches its kernels on the first call
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def conv_rates(model: nn.Module, x: torch.Tensor, memory_format, repeats: int, dtype=torch.float32) -> None:
    shapes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: shapes.append((m, tuple(i[0].shape), tuple(o.shape))))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    print("\n| conv | input | forward ms | forward GFLOP/s | backward ms | backward GFLOP/s |")
    print("|---|---|---:|---:|---:|---:|")
    for conv, in_shape, out_shape in shapes:
        kh, kw = conv.kernel_size
        inp = torch.randn(in_shape, dtype=dtype).contiguous(memory_format=memory_format).requires_grad_()
        grad = torch.randn(out_shape, dtype=dtype).contiguous(memory_format=memory_format)
        weight = conv.weight.detach().to(dtype).contiguous(memory_format=memory_format).requires_grad_()
        layer = lambda: nn.functional.conv2d(inp, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)  # noqa: E731
        counter = FlopCounterMode(display=False)  # torch's own count, as cifarlab.models.registry.forward_flops uses
        with counter, torch.no_grad():
            layer()
        flops = counter.get_total_flops()
        fwd = _timed(layer, repeats)
        backward = "| - | - (frozen)"
        if conv.weight.requires_grad:
            bwd = _timed(lambda: layer().backward(grad), repeats) - fwd  # grads of input and weight: 2x the FLOPs
            backward = f"| {1e3 * bwd:.0f} | {2 * flops / bwd / 1e9:.0f}"
        print(
            f"| {conv.in_channels}->{conv.out_channels} {kh}x{kw} | {in_shape[2]}x{in_shape[3]} | {1e3 * fwd:.0f} | "
            f"{flops / fwd / 1e9:.0f} {backward} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="fastnet")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--pixels", type=int, default=32, help="image side (24: a --crop 24 step)")
    p.add_argument("--nchw", action="store_true", help="keep NCHW instead of channels_last")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with AVX512-BF16 or AMX)")
    p.add_argument("--compile", action="store_true", help="torch.compile the whole step")
    p.add_argument("--steps", type=int, default=2, help="timed steps (after one warm-up step)")
    args = p.parse_args()

    torch.manual_seed(0)
    fmt = torch.contiguous_format if args.nchw else torch.channels_last
    model = create_model(args.model, **parse_key_values(args.model_arg, "--model-arg")).to(memory_format=fmt)
    x = torch.rand(args.batch_size, 3, args.pixels, args.pixels).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (args.batch_size,))
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.85, nesterov=True)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.2)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if args.bf16 else nullcontext()

    def step() -> None:
        with autocast:
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if args.compile:
        step = torch.compile(step)
        start = time.perf_counter()
        step()  # compiles
        print(f"torch.compile: the first step took {time.perf_counter() - start:.1f} s")
    seconds = _timed(step, args.steps)
    print(
        f"{args.model} batch {args.batch_size} at {args.pixels}px, {'NCHW' if args.nchw else 'channels_last'}, "
        f"{'bf16' if args.bf16 else 'fp32'}{', compiled' if args.compile else ''}, {torch.get_num_threads()} threads: "
        f"{args.batch_size / seconds:.0f} train img/s ({seconds:.3f} s/step)"
    )
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    conv_rates(model, x, fmt, args.steps, torch.bfloat16 if args.bf16 else torch.float32)


if __name__ == "__main__":
    main()
