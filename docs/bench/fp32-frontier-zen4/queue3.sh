#!/bin/bash
# issue 21, part 1, after hyper-zen4/queue.sh: the fp32 picker hands over from fast to fast89-wide somewhere
# between a Zen 3's 10 minutes (fast ahead, 87.16% against fast89's 86.43%) and its 15 (fast89-wide ahead,
# 88.41% against 87.47%). Both at 12.5 minutes, 434 s here with --amp off (750 / 1.726). Seed 0 each, one run
# at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
while pgrep -f hyper-zen4/queue.sh >/dev/null; do sleep 10; done
for recipe in fast89-wide fast; do
  run "$recipe-434s-fp32-s0" --recipe "$recipe" --amp off --time-budget 434s --seed 0
done
