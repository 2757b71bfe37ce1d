#!/bin/bash
# issue 21, part 2: a third conv in the last group only (fastnet depth=[2,2,3]), where a conv is cheapest
# (7x7 and 3x3 maps). Depth 3 in every group gave +0.34 (queue.sh) at +28% per step; in the last group
# alone a step costs +3% at fast89's widths and +11% over fast89-wide's (forward and backward timed on
# this host). Seed 0 of three variants on the step-matched 695 s (fp32), then seeds 1 and 2 of the best
# if it beat fast89-wide's seed 0 (89.85%). One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
base=(--recipe fast89 --amp off --time-budget 695s)
declare -A flags=(
  [d223]="--model-arg depth=[2,2,3]"
  [d223-w3-256]="--model-arg depth=[2,2,3] --model-arg widths=[32,128,256]"
  [d223-w3-192]="--model-arg depth=[2,2,3] --model-arg widths=[32,128,192]"
)
for v in d223 d223-w3-256 d223-w3-192; do
  # shellcheck disable=SC2086
  run fast89-$v-695s-fp32-s0 "${base[@]}" ${flags[$v]} --seed 0
done
seeds_of_best 0.8985 fast89- -695s-fp32-s 1 2
