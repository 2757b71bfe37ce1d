#!/bin/bash
# issue 21, part 2, after queue2.sh: seeds 1 and 2 of whichever of queue2's two seed-0 variants (depth 3
# with the 256-channel last group; a 384-channel last group) did best, if it beat the 256-channel last
# group's seed 0 (89.85%). Same budget and host; one run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
while pgrep -f arch-zen4/queue2.sh >/dev/null; do sleep 20; done
base=(--recipe fast89 --amp off --time-budget 695s)
declare -A flags=(
  [d3-w3-256]="--model-arg depth=3 --model-arg widths=[32,128,256]"
  [w3-384]="--model-arg widths=[32,128,384]"
)
best=$(best_variant 0.8985 fast89-d3-w3-256-695s-fp32-s0 fast89-w3-384-695s-fp32-s0)
echo "=== best variant on seed 0: $best"
if [ "$best" != none ]; then
  v=${best#fast89-}
  v=${v%-695s-fp32-s0}
  for seed in 1 2; do
    run fast89-$v-695s-fp32-s$seed "${base[@]}" ${flags[$v]} --seed $seed
  done
fi
