#!/bin/bash
# Baseline runs (no AugMix) for issue 19, from a frozen worktree.
cd WORKDIR/rob
export CIFARLAB_DATA=../shared/data/cifar10 PYTHONPATH=WORKDIR/wt-base/src
PY=.venv/bin/python
$PY -m cifarlab train --recipe fast --seed 0 --out WORKDIR/rob/runs --name fast-base --no-progress
$PY -m cifarlab train --model resnet20 --epochs 8 --seed 0 --out WORKDIR/rob/runs --name resnet20-base --no-progress
$PY -m cifarlab train --model cnn3_wide --epochs 8 --seed 0 --out WORKDIR/rob/runs --name cnn3_wide-base --no-progress
$PY -m cifarlab train --recipe fast90 --seed 0 --out WORKDIR/rob/runs --name fast90-base --no-progress
