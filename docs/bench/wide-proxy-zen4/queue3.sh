#!/bin/bash
# issue 21, part 2, after queue2.sh: under the new budget guard (dead band: 3% of the steps still to come)
# fast89-wide's seeds 0 and 1 reached 89.46% and 89.49%, against 89.85/89.95% and 89.90/89.84% in two
# earlier sessions under the old guard (3% of all steps), with as many epochs. Either the new guard's
# late re-plans hurt, or this session's host does. So the same seeds run here under the old guard, one
# at a time, right after the new guard's: the code is a worktree at 814cc55, the last commit before
# the guard changed (git worktree add --detach WORKDIR/wt-oldguard 814cc55), not this script's own tree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env WORKDIR/wt-oldguard WORKDIR/emu11
for seed in 0 1 2; do
  run "fast89-wide-oldguard-695s-fp32-s$seed" --recipe fast89-wide --amp off --time-budget 695s --seed "$seed"
done
