#!/bin/bash
# fast90 pair: the first 1,000 test images per set, in bf16 autocast (its network is 12x fast's FLOPs).
export CIFARLAB_DATA=../shared/data/cifar10 OMP_NUM_THREADS=1
for run in "$@"; do
  while [ ! -f WORKDIR/rob/runs/$run/model.pt ]; do sleep 20; done
  sleep 5
  /usr/bin/time -f "$run robustness wall %e s" .venv/bin/cifarlab robustness WORKDIR/rob/runs/$run --images 1000 --amp auto > WORKDIR/rob/rob-$run.log 2>&1
  tail -1 WORKDIR/rob/rob-$run.log
done
