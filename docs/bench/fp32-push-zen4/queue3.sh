#!/bin/bash
# issue 21, part 2, after queue.sh (Muon led on seed 0: 89.69%; crops without selection 89.47%; more kept
# rows and longer crops 89.01%; fast89 itself 89.37%): Muon with crops and no selection, seed 0; if it beats
# Muon with selection on seed 0, its seeds 1 and 2; otherwise queue2.sh's 60-minute bf16 fast90-sel point
# (queue2.sh was stopped before it started and this runs it in its place). From the worktree frozen at 950e2ef.
set -u
export PYTHONPATH=WORKDIR/wt-emu8/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu8
while pgrep -f "fp32-push-zen4/queue.sh" > /dev/null; do sleep 5; done
run() {  # name, then the train flags
  name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  $PY -m cifarlab train "$@" --out WORKDIR/emu8 --name "$name" > "$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
v=(--recipe fast89 --amp off --time-budget 695s --optimizer muon --muon-lr 0.1 --muon-momentum 0.8 --lr 1.125 --keep-hard 1)
run fast89-muon-nosel-695s-fp32-s0 "${v[@]}" --seed 0
acc=$($PY -c 'import json; print(json.load(open("fast89-muon-nosel-695s-fp32-s0/summary.json"))["final_test_acc"])')
echo "=== muon-nosel seed 0: $acc (muon seed 0: 0.8969)"
if $PY -c "import sys; sys.exit(0 if $acc > 0.8969 else 1)"; then
  for seed in 1 2; do run fast89-muon-nosel-695s-fp32-s$seed "${v[@]}" --seed $seed; done
else
  run fast90sel-60m-bf16-s0 --recipe fast90-sel --time-budget 60m --seed 0
fi
