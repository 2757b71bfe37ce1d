#!/bin/bash
# issue 21, part 1: seeds 1 and 2 of the crop+selection pair at 10 minutes on the bf16 host (seed 0
# reached 90.44% in queue.sh). After queue.sh; same frozen worktree.
set -u
export PYTHONPATH=WORKDIR/wt-emu3/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu3
while pgrep -f "queue.sh dd4c8c6" > /dev/null; do sleep 5; done
PAIR="--keep-hard 0.5 --crop 24 --crop-until 0.6"
for seed in 1 2; do
  name=pair-10m-s$seed
  echo "=== $(date -u +%FT%TZ) start $name"
  $PY -m cifarlab train --recipe fast90 $PAIR --time-budget 10m --seed $seed --out WORKDIR/emu3 --name $name > $name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
