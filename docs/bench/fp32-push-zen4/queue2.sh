#!/bin/bash
# issue 21, part 1: the bf16 frontier's 60-minute point for fast90-sel (unmeasured; fast90 reached 91.76%
# there, seed 0). Seed 0, this host's own bf16, after queue.sh. From the worktree frozen at 950e2ef.
set -u
export PYTHONPATH=WORKDIR/wt-emu8/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/emu8
while pgrep -f "fp32-push-zen4/queue.sh" > /dev/null; do sleep 5; done
name=fast90sel-60m-bf16-s0
echo "=== $(date -u +%FT%TZ) start $name"
.venv/bin/python -m cifarlab train --recipe fast90-sel --time-budget 60m --seed 0 --out WORKDIR/emu8 --name $name > $name.log 2>&1
echo "=== $(date -u +%FT%TZ) end $name rc $?"
