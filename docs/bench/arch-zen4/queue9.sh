#!/bin/bash
# issue 21, part 2, after queue8.sh: two last seed-0 variants on the step-matched 695 s (fp32):
# - a 192-channel last group without the third conv (32/128/192: a step 10% cheaper than fast89-wide's
#   when timed alone; with the third conv it reached 89.60%, queue6.sh);
# - fast89-wide with crops until 70% of the steps instead of 60% (a crop step costs about half a full one).
# One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
while pgrep -f arch-zen4/queue8.sh >/dev/null; do sleep 10; done
run fast89-wide-w-32-128-192-695s-fp32-s0 --recipe fast89-wide --model-arg widths=[32,128,192] --amp off --time-budget 695s --seed 0
run fast89-wide-crop07-695s-fp32-s0 --recipe fast89-wide --crop-until 0.7 --amp off --time-budget 695s --seed 0
