#!/bin/bash
# issue 21 part 2: selective backprop (--keep-hard) at equal budgets, fp32 arithmetic (--amp off), frozen at 800f945
export PYTHONPATH=WORKDIR/wt-sel/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/sel
while pgrep -f "out WORKDIR/f60" > /dev/null; do sleep 5; done  # one run at a time: after the 60-minute point
run() {  # name, then flags
  local name=$1; shift
  echo "=== $(date -u +%FT%TZ) start $name"
  .venv/bin/python -m cifarlab train --recipe fast90 --amp off --time-budget 20m --seed 0 "$@" \
    --out WORKDIR/sel --name "$name" > "WORKDIR/sel/$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
run fast90-20m-fp32-keep50-s0 --keep-hard 0.5
run fast90-20m-fp32-keep50-crop24-s0 --keep-hard 0.5 --crop 24 --crop-until 0.6
