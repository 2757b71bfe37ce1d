#!/bin/bash
# issue 21, part 2: wider-than-`fast`, narrower-than-`fast90` networks on the step-matched budget (a Zen 3's
# 20 minutes = 695 s of this Zen 4 in fp32, docs/performance.md), and `fast` with selection; then part 1's
# 60-minute point for fast90-sel on this host's own bf16. One run at a time, from a worktree frozen at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu6/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu6
run() {  # name, then the train flags
  name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  $PY -m cifarlab train "$@" --out WORKDIR/emu6 --name "$name" > "$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
run fast90sel-w075-695s-fp32-s0 --recipe fast90-sel --model-arg width=0.75 --amp off --time-budget 695s --seed 0
run fast-w075-695s-fp32-s0 --recipe fast --model-arg width=0.75 --amp off --time-budget 695s --seed 0
run fast-keep50-695s-fp32-s0 --recipe fast --keep-hard 0.5 --amp off --time-budget 695s --seed 0
run fast90sel-60m-s0 --recipe fast90-sel --time-budget 60m --seed 0
