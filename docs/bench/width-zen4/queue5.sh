#!/bin/bash
# issue 21, part 2: fast89 on the slower Zen 3 instances' 20 minutes (their fast90 epochs ran at 304-342 s,
# a ratio near 2.0 to this Zen 4 in fp32, so about 600 s here), seed 0. From the worktree frozen at $1.
set -u
export PYTHONPATH=WORKDIR/wt-emu7/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/emu7
name=fast89-600s-fp32-s0
echo "=== $(date -u +%FT%TZ) start $name"
.venv/bin/python -m cifarlab train --recipe fast89 --amp off --time-budget 600s --seed 0 --out WORKDIR/emu7 --name $name > $name.log 2>&1
echo "=== $(date -u +%FT%TZ) end $name rc $?"
