#!/bin/bash
# Baseline runs (no AugMix) for issue 19, from a frozen worktree.
cd /work/rob
export CIFARLAB_DATA=/work/shared/data/cifar10 PYTHONPATH=/work/wt-base/src
PY=/work/main/.venv/bin/python
$PY -m cifarlab train --recipe fast --seed 0 --out /work/rob/runs --name fast-base --no-progress
$PY -m cifarlab train --model resnet20 --epochs 8 --seed 0 --out /work/rob/runs --name resnet20-base --no-progress
$PY -m cifarlab train --model cnn3_wide --epochs 8 --seed 0 --out /work/rob/runs --name cnn3_wide-base --no-progress
$PY -m cifarlab train --recipe fast90 --seed 0 --out /work/rob/runs --name fast90-base --no-progress
