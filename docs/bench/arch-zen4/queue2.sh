#!/bin/bash
# issue 21, part 2, after queue.sh: seeds 1 and 2 of depth 3 (queue.sh ran those of the wider last group,
# its best on seed 0), then seed 0 of two larger steps in the same direction: depth 3 with the wider
# last group, and a last group of 384. Same budget and host; one run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
while pgrep -f arch-zen4/queue.sh >/dev/null; do sleep 20; done
base=(--recipe fast89 --amp off --time-budget 695s)
for seed in 1 2; do
  run fast89-d3-695s-fp32-s$seed "${base[@]}" --model-arg depth=3 --seed $seed
done
run fast89-d3-w3-256-695s-fp32-s0 "${base[@]}" --model-arg depth=3 --model-arg widths=[32,128,256] --seed 0
run fast89-w3-384-695s-fp32-s0 "${base[@]}" --model-arg widths=[32,128,384] --seed 0
