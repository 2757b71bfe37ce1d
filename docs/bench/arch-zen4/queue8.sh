#!/bin/bash
# issue 21, part 2: does fast89-wide's gain hold on a slower fp32 host? On 600 s (the steps of the
# slower Zen 3 instances' 20 minutes) seed 0 gave fast89-wide 88.91% against fast89's 89.15% (queue4.sh
# and docs/bench/width-zen4). Seeds 1 and 2 of both, interleaved, for a median of 3 each.
# One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
while pgrep -f "pytest" >/dev/null; do sleep 10; done
for seed in 1 2; do
  run fast89-600s-fp32-s$seed --recipe fast89 --amp off --time-budget 600s --seed $seed
  run fast89-wide-600s-fp32-s$seed --recipe fast89-wide --amp off --time-budget 600s --seed $seed
done
