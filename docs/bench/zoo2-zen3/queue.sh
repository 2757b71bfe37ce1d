#!/usr/bin/env bash
# The zoo at 10 minutes beside the textbook loop, one model (and seed) at a time, both at once with one
# thread each. Usage, from the repository root: docs/bench/zoo2-zen3/queue.sh WORKTREE
# (WORKTREE: a frozen checkout of the code measured, e.g. `git worktree add ../wt-zoo HEAD`).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh" "$1"
zoo --models resnet20
zoo --models resnet56
zoo --models vgg16_bn
zoo --models resnet18
zoo --models vgg11_bn
zoo --models mobilenetv2
zoo --models resnet20,resnet56 --first-seed 1 --seeds 2
