#!/bin/bash
# issue 21, after queue3.sh: fast89-wide's seeds came out about 0.4 points lower in this session than in
# two earlier ones, under either budget guard. Does fast89 (the picker's runner-up for an fp32 host's 20
# minutes: 89.37 / 89.44 / 89.43% on seeds 0-2 in an earlier session) drop too? Its seeds 0 and 1 on the
# same step-matched 695 s (fp32), under the new guard: a same-session check of the picker's order.
# One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
for seed in 0 1; do
  run "fast89-guard-695s-fp32-s$seed" --recipe fast89 --amp off --time-budget 695s --seed "$seed"
done
