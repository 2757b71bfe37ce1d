#!/bin/bash
# issue 21, part 1: the estimated fp32 frontier in the issue's shape (2, 5, 10, 20 and 60 minutes, 3 seeds at
# 5 and 20). A Zen 3's T minutes hold the steps of T / 1.726 here with --amp off ("On an fp32 host's clock"
# in docs/performance.md): 2 min -> 69.5 s, 5 min -> 174 s, 10 min -> 348 s, 60 min -> 2086 s. 20 minutes
# (695 s) has its 3 seeds already (fast89-wide, docs/bench/arch-zen4/).
# - 2 min: fast, seed 0.
# - 5 min: fast89 seed 0 against fast's seed 0 (85.48%, docs/bench/fp32-host-estimate-zen4/); seeds 1 and 2
#   of whichever leads.
# - 10 min: fast89 seed 0 against fast's 87.16% (seed 0).
# - 60 min: fast90-sel (the bf16 host's choice at the same number of steps), then fast89-wide, seed 0 each.
# One run at a time, from a frozen worktree.
set -u
source "$(dirname "$0")/../lib.sh"
queue_env "$(cd "$(dirname "$0")/../../.." && pwd)" WORKDIR/emu11
fp32=(--amp off)
run fast-69.5s-fp32-s0 --recipe fast "${fp32[@]}" --time-budget 69.5s --seed 0
run fast89-174s-fp32-s0 --recipe fast89 "${fp32[@]}" --time-budget 174s --seed 0
best=$(best_variant 0.8548 fast89-174s-fp32-s0)
recipe=$([ "$best" = none ] && echo fast || echo fast89)
echo "=== 5 min, seeds 1 and 2 of: $recipe"
for seed in 1 2; do
  run "$recipe-174s-fp32-s$seed" --recipe "$recipe" "${fp32[@]}" --time-budget 174s --seed "$seed"
done
run fast89-348s-fp32-s0 --recipe fast89 "${fp32[@]}" --time-budget 348s --seed 0
run fast90-sel-2086s-fp32-s0 --recipe fast90-sel "${fp32[@]}" --time-budget 2086s --seed 0
run fast89-wide-2086s-fp32-s0 --recipe fast89-wide "${fp32[@]}" --time-budget 2086s --seed 0
