#!/bin/bash
# issue 21 part 2: seeds 1 and 2 of whichever selective-backprop setting did better on seed 0
# (--keep-hard 0.5, or with --crop 24 --crop-until 0.6), fp32 arithmetic, frozen at 800f945
export PYTHONPATH=WORKDIR/wt-sel/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/sel
while pgrep -f "name fast90-20m-fp32-keep50-crop24-s0" > /dev/null; do sleep 5; done
acc() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['test_acc'])" "$1/summary.json"; }
a=$(acc fast90-20m-fp32-keep50-s0); b=$(acc fast90-20m-fp32-keep50-crop24-s0)
echo "seed 0: keep50 $a, keep50+crop24 $b"
if python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) > float(sys.argv[1]) else 1)" "$a" "$b"; then
  tag=keep50-crop24; flags="--keep-hard 0.5 --crop 24 --crop-until 0.6"
else
  tag=keep50; flags="--keep-hard 0.5"
fi
for seed in 1 2; do
  name=fast90-20m-fp32-$tag-s$seed
  echo "=== $(date -u +%FT%TZ) start $name"
  .venv/bin/python -m cifarlab train --recipe fast90 --amp off --time-budget 20m --seed $seed $flags \
    --out WORKDIR/sel --name "$name" > "WORKDIR/sel/$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
