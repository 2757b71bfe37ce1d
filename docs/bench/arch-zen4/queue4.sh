#!/bin/bash
# issue 21, after queue3.sh: fast89 with the 256-channel last group (the recipe fast89-wide, run here by the
# flags it was measured with) on two more budgets, seed 0 each: 5 minutes on this host's bf16, where fast89
# leads the picker's table (88.17%, median of 3), and 600 s in fp32, the steps a slower Zen 3 instance
# takes in 20 minutes (fast89 reached 89.15% there). One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
wide=(--recipe fast89 --model-arg widths=[32,128,256])
run fast89-w3-256-5m-s0 "${wide[@]}" --time-budget 5m --seed 0
run fast89-w3-256-600s-fp32-s0 "${wide[@]}" --amp off --time-budget 600s --seed 0
