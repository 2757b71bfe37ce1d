#!/bin/bash
# issue 21, part 1, after queue3.sh: fast89 (fast90-sel at width 0.5) led `fast` on this host's own bf16
# at 5 minutes (88.22% against fast's median 87.16%, seed 0), so seeds 1 and 2 there, seed 1 at 7 minutes
# (the picker's 7-minute points are means of 2 seeds), then seed 0 at 2 and at 10 minutes.
# From the worktree frozen at $1 (there the recipe is `--recipe fast90-sel --model-arg width=0.5`).
set -u
export PYTHONPATH=WORKDIR/wt-emu6/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu6
while pgrep -f "width-zen4/queue3.sh" > /dev/null; do sleep 5; done
run() {  # name, then the train flags
  name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  $PY -m cifarlab train "$@" --out WORKDIR/emu6 --name "$name" > "$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
for spec in 5m:1 5m:2 7m:1 2m:0 10m:0; do
  budget=${spec%:*} seed=${spec#*:}
  run fast90sel-w05-$budget-bf16-s$seed --recipe fast90-sel --model-arg width=0.5 --time-budget $budget --seed $seed
done
