#!/bin/bash
# issue 21, part 1 on the bf16 host (the host's own arithmetic, no --amp flag): the crop+selection pair
# against plain fast90's 89.34% at 10 minutes, then fast90 and the pair at 5 minutes against fast's
# 87.16% (median of 3). One run at a time, nothing else beside them. Frozen at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu3/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu3
PAIR="--keep-hard 0.5 --crop 24 --crop-until 0.6"
run() {  # name, then the flags
  name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name"
  $PY -m cifarlab train "$@" --out WORKDIR/emu3 --name $name > $name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
run pair-10m-s0 --recipe fast90 $PAIR --time-budget 10m --seed 0
run pair-5m-s0 --recipe fast90 $PAIR --time-budget 5m --seed 0
run fast90-5m-s0 --recipe fast90 --time-budget 5m --seed 0
