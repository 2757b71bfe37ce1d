#!/bin/bash
# issue 21, part 2: more depth or a wider last group for fast89, on the step-matched budget (a Zen 3's
# 20 minutes = 695 s of steps on this Zen 4, fp32 arithmetic). Both add ~28% to the main network's
# step (timed alone: 271 ms -> 350 / 347 ms for fwd+bwd on 256 images), most of it in the 7x7 and 3x3
# maps, where convolutions run fastest. Seed 0 each, then seeds 1 and 2 of whichever did best on
# seed 0, if it beat fast89's seed 0 (89.37%). One run at a time, from a frozen worktree (the commit
# is named in docs/performance.md).
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
base=(--recipe fast89 --amp off --time-budget 695s)
declare -A flags=(
  [d3]="--model-arg depth=3"
  [w3-256]="--model-arg widths=[32,128,256]"
)
for v in d3 w3-256; do
  run fast89-$v-695s-fp32-s0 "${base[@]}" ${flags[$v]} --seed 0
done
best=$(best_variant 0.8937 fast89-d3-695s-fp32-s0 fast89-w3-256-695s-fp32-s0)
echo "=== best variant on seed 0: $best"
if [ "$best" != none ]; then
  v=${best#fast89-}
  v=${v%-695s-fp32-s0}
  for seed in 1 2; do
    run fast89-$v-695s-fp32-s$seed "${base[@]}" ${flags[$v]} --seed $seed
  done
fi
