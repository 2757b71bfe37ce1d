#!/bin/bash
# issue 21, part 1: where between 5 and 10 minutes fast90-sel overtakes fast on the bf16 host
# (5 min: fast 87.16% median, fast90-sel 84.55%; 10 min: fast 87.60%, fast90-sel 90.00% median).
# One seed of each at 7 minutes, one run at a time, nothing else beside them. Frozen at $1; seed $2.
# Ran as `queue-7m.sh 3fd1db2 0`, then `queue-7m.sh 3fd1db2 1` (the seed-1 run from a copy with the
# seed written in, since merged into this script).
set -u
seed=${2:-0}
export PYTHONPATH=WORKDIR/wt-emu5/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/emu5
for recipe in fast90-sel fast; do
  name=$recipe-7m-s$seed
  echo "=== $(date -u +%FT%TZ) start $name"
  .venv/bin/python -m cifarlab train --recipe $recipe --time-budget 7m --seed $seed --out WORKDIR/emu5 --name $name > $name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
