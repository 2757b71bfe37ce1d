#!/bin/bash
# issue 21, after queue4.sh: the 256-channel last group with a narrower middle group (32/96/256), seed 0 on
# the step-matched 695 s (fp32): the middle group's 15x15 and 7x7 convolutions shrink, so the step should
# cost less than fast89-wide's and the budget hold more epochs. One run, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
while pgrep -f "bash .ci/run" >/dev/null; do sleep 10; done
run fast89-w-32-96-256-695s-fp32-s0 --recipe fast89 --model-arg widths=[32,96,256] --amp off --time-budget 695s --seed 0
