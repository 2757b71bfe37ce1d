#!/bin/bash
# issue 21, part 1, after queue2.sh: does the narrower fast90-sel that did best in fp32 (queue2.log's
# "best width") also pay on this host's own bf16 below 10 minutes, where the picker takes `fast`
# (87.16% at 5 min, 87.79% at 7, docs/performance.md)? Seed 0 at 5 and 7 minutes, from the worktree at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu6/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu6
while pgrep -f "width-zen4/queue2.sh" > /dev/null; do sleep 5; done
best=$(sed -n 's/^=== best width on seed 0: //p' queue2.log)
[[ -n $best ]] || { echo "no best width in queue2.log"; exit 1; }
run() {  # name, then the train flags
  name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  $PY -m cifarlab train "$@" --out WORKDIR/emu6 --name "$name" > "$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
for budget in 5m 7m; do
  run fast90sel-w${best/./}-$budget-bf16-s0 --recipe fast90-sel --model-arg width=$best --time-budget $budget --seed 0
done
