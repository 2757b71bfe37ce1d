#!/bin/bash
# issue 21, part 2, after queue6.sh (a third conv in the last group: no gain): two changes to fast89-wide
# on the step-matched 695 s (fp32), seed 0 each, then seeds 1 and 2 of the better if it beat
# fast89-wide's seed 0 (89.85%):
# - batch 256 instead of 512, LR halved (the same LR per image and weight decay per epoch): twice the
#   updates in ~19 epochs, for about the same cost per image on a CPU;
# - a wider middle group (32/160/256): the narrower one (32/96/256, queue5.sh) lost 0.35 points.
# One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
base=(--recipe fast89-wide --amp off --time-budget 695s)
declare -A flags=(
  [b256]="--batch-size 256 --lr 0.375"
  [w-32-160-256]="--model-arg widths=[32,160,256]"
)
for v in b256 w-32-160-256; do
  # shellcheck disable=SC2086
  run fast89-wide-$v-695s-fp32-s0 "${base[@]}" ${flags[$v]} --seed 0
done
seeds_of_best 0.8985 fast89-wide- -695s-fp32-s 1 2
