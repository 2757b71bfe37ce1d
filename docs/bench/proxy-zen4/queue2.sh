#!/bin/bash
# issue 21, part 1, after queue.sh: where fast90-sel (ahead at 20 minutes, 91.28% against 91.01%, medians
# of 3) and fast90 (ahead at 60, 91.76% against 91.41%, seed 0) cross on the bf16 host. Both over 35
# minutes (about halfway on a log scale), seed 0, this host's own bf16. From the worktree frozen at 182e5a2.
set -u
export PYTHONPATH=WORKDIR/wt-emu9/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
OUT=WORKDIR/emu9
source WORKDIR/wt-emu9/docs/bench/lib.sh
cd "$OUT"
while pgrep -f "proxy-zen4/queue.sh" > /dev/null; do sleep 5; done
run fast90-sel-35m-s0 --recipe fast90-sel --time-budget 35m --seed 0
run fast90-35m-s0 --recipe fast90 --time-budget 35m --seed 0
