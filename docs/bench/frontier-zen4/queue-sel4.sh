#!/bin/bash
# issue 21, part 1: seeds 1 and 2 of fast90-sel over 20 minutes on the bf16 host (seed 0: 91.24%),
# against fast90's 91.01% (median of 3). One run at a time, nothing else beside them. Frozen at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu5/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/emu5
for seed in 1 2; do
  name=fast90-sel-20m-s$seed
  echo "=== $(date -u +%FT%TZ) start $name"
  .venv/bin/python -m cifarlab train --recipe fast90-sel --time-budget 20m --seed $seed --out WORKDIR/emu5 --name $name > $name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
