#!/bin/bash
# issue 21 part 2: the fp32 goal on a step-matched budget. This Zen 4 host runs fast90 in fp32 at
# 159.6 s an epoch; the clean Zen 3 run (2026-12-04, seed 0) at 275.5 s: ratio 1.726, so a Zen 3's
# 20 minutes hold the steps of 1200 / 1.726 = 695 s here. Frozen at d092e16.
export PYTHONPATH=WORKDIR/wt-emu/src CIFARLAB_DATA=../shared/data/cifar10
cd WORKDIR/emu
for seed in 0 1 2; do
  name=fast90-695s-fp32-keep50-crop24-s$seed
  echo "=== $(date -u +%FT%TZ) start $name"
  .venv/bin/python -m cifarlab train --recipe fast90 --amp off --time-budget 695s --seed $seed \
    --keep-hard 0.5 --crop 24 --crop-until 0.6 --out WORKDIR/emu --name "$name" > "WORKDIR/emu/$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
done
name=fast90-695s-fp32-s0
echo "=== $(date -u +%FT%TZ) start $name"
.venv/bin/python -m cifarlab train --recipe fast90 --amp off --time-budget 695s --seed 0 \
  --out WORKDIR/emu --name "$name" > "WORKDIR/emu/$name.log" 2>&1
echo "=== $(date -u +%FT%TZ) end $name rc $?"
