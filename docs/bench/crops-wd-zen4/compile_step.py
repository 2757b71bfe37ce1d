"""One-off timing behind docs/performance.md's `torch.compile` row (issue 21, part 2): the main network of
fast89-wide (fastnet at widths 32/128/256), one training step (forward, label-smoothed cross-entropy,
backward, Nesterov SGD) on the 256 rows a --keep-hard 0.5 step trains, at 24 and 32 pixels, fp32, 2
threads, channels_last, random weights and images; eager against torch.compile (inductor's CPU backend).

    python docs/bench/crops-wd-zen4/compile_step.py eager
    python docs/bench/crops-wd-zen4/compile_step.py compile

Prints the warm-up time (3 steps, compilation included) and the median and minimum of 12 timed steps.
"""

import sys
import time

import torch
import torch.nn.functional as F

from cifarlab.models import create_model

torch.manual_seed(0)
torch.set_num_threads(2)
mode = sys.argv[1]
net = create_model("fastnet", widths=(32, 128, 256)).to(memory_format=torch.channels_last)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.85, nesterov=True)


def step(x, y):
    loss = F.cross_entropy(net(x), y, label_smoothing=0.2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


fn = torch.compile(step) if mode == "compile" else step
for px in (24, 32):
    x = torch.randn(256, 3, px, px).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (256,))
    t0 = time.perf_counter()
    for _ in range(3):
        fn(x, y)
    warm = time.perf_counter() - t0
    times = []
    for _ in range(12):
        t0 = time.perf_counter()
        fn(x, y)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"{mode} {px}px warm {warm:.1f}s median {1000 * times[6]:.1f} ms min {1000 * times[0]:.1f} ms", flush=True)
