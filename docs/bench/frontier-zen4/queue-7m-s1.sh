#!/bin/bash
# issue 21, part 1: where between 5 and 10 minutes fast90-sel overtakes fast on the bf16 host
# (5 min: fast 87.16% median, fast90-sel 84.55%; 10 min: fast 87.60%, fast90-sel 90.00% median).
# Seed 1 of each at 7 minutes (seed 0: queue-7m.sh), one run at a time, nothing else beside them. Frozen at $1.
set -u
export PYTHONPATH=/work/wt-emu5/src CIFARLAB_DATA=/work/shared/data/cifar10
cd /work/emu5
for recipe in fast90-sel fast; do
  name=$recipe-7m-s1
  echo "=== $(date -u +%FT%TZ) start $name"
  /work/main/.venv/bin/python -m cifarlab train --recipe $recipe --time-budget 7m --seed 1 --out /work/emu5 --name $name > $name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
