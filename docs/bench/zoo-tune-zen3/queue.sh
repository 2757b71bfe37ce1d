#!/usr/bin/env bash
# Per-family LR searches at full size, on the step counts a 10-minute budget buys on one thread of a
# 2-core Zen 3 (fp32), selected on a 5,000-image validation split only (the test accuracy is recorded
# beside, never used). One trial at a time, one thread: fixed epochs, so a busy machine changes the
# wall time of a trial and not its result. Usage, from the repository root:
# docs/bench/zoo-tune-zen3/queue.sh WORKTREE   (a frozen checkout, e.g. `git worktree add ../wt-tune HEAD`)
set -u
. "$(dirname "$0")/grid.sh" "$1"
# resnet20: 2.29 epochs of 50,000 images fit 10 minutes (docs/zoo.md), about 2.5 of 45,000.
grid --model resnet20 --epochs 2.5 --study resnet20-lr --param lr=0.05,0.1,0.2,0.4,0.8
# vgg11_bn: a third of an epoch fits 10 minutes.
grid --model vgg11_bn --epochs 0.36 --study vgg11_bn-lr --param lr=0.025,0.05,0.1,0.2
# resnet56: 0.65 of an epoch fits 10 minutes.
grid --model resnet56 --epochs 0.7 --study resnet56-lr --param lr=0.1,0.2,0.4
