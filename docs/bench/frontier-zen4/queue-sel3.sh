#!/bin/bash
# issue 21, part 1: fast90-sel over 20 minutes on the bf16 host, against fast90's 91.01% (median of 3).
# One run, nothing beside it. Frozen at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu4/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/emu4
echo "=== $(date -u +%FT%TZ) start fast90-sel-20m-s0"
.venv/bin/python -m cifarlab train --recipe fast90-sel --time-budget 20m --seed 0 --out WORKDIR/emu4 --name fast90-sel-20m-s0 > fast90-sel-20m-s0.log 2>&1
echo "=== $(date -u +%FT%TZ) end fast90-sel-20m-s0 rc $?"
