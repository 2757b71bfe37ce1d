#!/bin/bash
# issue 21, part 1, after queue.sh: where between 10 and 20 minutes of an fp32 host fast89-wide overtakes fast.
# 15 minutes of a Zen 3 are 521 s here with --amp off (900 / 1.726). Seed 0 each, one run at a time, from a
# frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
for recipe in fast fast89-wide; do
  run "$recipe-521s-fp32-s0" --recipe "$recipe" --amp off --time-budget 521s --seed 0
done
