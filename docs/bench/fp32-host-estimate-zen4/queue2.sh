#!/bin/bash
# issue 21: after WORKDIR/emu/queue.sh. On the same step-matched budgets (a Zen 3's 20 minutes = 695 s
# of this Zen 4 in fp32): `fast`, which the fp32 picker takes for 20 minutes, then a cifarlab tune
# study of the pair's three settings on that budget objective, its baseline first.
# Frozen at $1 (the commit with tune --baseline).
set -u
export PYTHONPATH=WORKDIR/wt-emu2/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
cd WORKDIR/emu2
while pgrep -f "out WORKDIR/emu " > /dev/null; do sleep 5; done
# a Zen 3's 5, 10 and 20 minutes: 174, 348 and 695 s here
for budget in 174 348 695; do
  name=fast-${budget}s-fp32-s0
  echo "=== $(date -u +%FT%TZ) start $name"
  $PY -m cifarlab train --recipe fast --amp off --time-budget ${budget}s --seed 0 --out WORKDIR/emu2 --name $name > $name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
echo "=== $(date -u +%FT%TZ) start tune"
$PY -m cifarlab tune --recipe fast90 --amp off --time-budget 695s --seed 0 --keep-hard 0.5 --crop 24 --crop-until 0.6 \
  --baseline --param keep_hard=0.25..0.75 --param crop=16..28 --param crop_until=0.3..0.9 --trials 4 --pruner none \
  --study fp32-695s --out WORKDIR/emu2 > tune.log 2>&1
echo "=== $(date -u +%FT%TZ) end tune rc $?"
