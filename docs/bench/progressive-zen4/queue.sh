#!/bin/bash
# issue 21 part 2: progressive resizing measured at equal wall-clock budgets, fp32 arithmetic (--amp off)
# on this Zen 4 host, frozen at the worktree's commit; starts when the frontier queue is done
while pgrep -f WORKDIR/fr/queue.sh > /dev/null; do sleep 10; done
export PYTHONPATH=WORKDIR/wt-p2/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/p2
run() {  # name, then train flags
  local name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  .venv/bin/python -m cifarlab train "$@" --out WORKDIR/p2 --name $name > WORKDIR/p2/$name.log 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
run fast90-20m-fp32-s0 --recipe fast90 --amp off --time-budget 20m --seed 0
run fast90-20m-fp32-crop24-s0 --recipe fast90 --amp off --time-budget 20m --seed 0 --crop 24 --crop-until 0.6
# the frontier's 10-minute point through the picker, on the frontier's protocol (bf16, all 50,000 images)
PYTHONPATH=WORKDIR/wt-fr/src run budget-10m-s0 --time-budget 10m --seed 0
for s in 0 1; do
  run fast-3m-fp32-s$s --recipe fast --amp off --time-budget 3m --seed $s
  run fast-3m-fp32-crop24-s$s --recipe fast --amp off --time-budget 3m --seed $s --crop 24 --crop-until 0.6
done
