#!/bin/bash
# issue 21, part 2, after queue.sh's first two runs (its last two were dropped for this one): fast90-sel's
# network at widths 0.625 and 0.5 on the step-matched budget (a Zen 3's 20 minutes = 695 s here, fp32),
# then seeds 1 and 2 of whichever width did best on seed 0 (full width: 87.61%, docs/performance.md),
# then `fast` with selection. One run at a time, from the worktree frozen at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu6/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu6
while pgrep -f "cifarlab train --recipe fast --model-arg width=0.75" > /dev/null; do sleep 5; done
run() {  # name, then the train flags
  name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  $PY -m cifarlab train "$@" --out WORKDIR/emu6 --name "$name" > "$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
sel=(--recipe fast90-sel --amp off --time-budget 695s)
for w in 0.625 0.5; do
  run fast90sel-w${w/./}-695s-fp32-s0 "${sel[@]}" --model-arg width=$w --seed 0
done
best=$($PY - <<'PY'
import json
accs = {w: json.load(open(f"fast90sel-w{w.replace('.', '')}-695s-fp32-s0/summary.json"))["final_test_acc"]
        for w in ("0.75", "0.625", "0.5")}
print(max(accs, key=accs.get))
PY
)
echo "=== best width on seed 0: $best"
for seed in 1 2; do
  run fast90sel-w${best/./}-695s-fp32-s$seed "${sel[@]}" --model-arg width=$best --seed $seed
done
run fast-keep50-695s-fp32-s0 --recipe fast --keep-hard 0.5 --amp off --time-budget 695s --seed 0
