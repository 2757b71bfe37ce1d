#!/bin/bash
# Issue 19 measurement queue: baselines from WORKDIR/wt-base, AugMix runs from WORKDIR/wt-aug (frozen worktrees).
# One torch thread: the machine is shared with test runs, and two 2-thread processes on 2 cores thrash.
cd WORKDIR/rob
export CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
t() { local wt=$1; shift; PYTHONPATH=WORKDIR/$wt/src $PY -m cifarlab train "$@" --seed 0 --threads 1 --out WORKDIR/rob/runs --no-progress; }
t wt-aug --recipe fast --augmix --name fast-augmix
t wt-base --model resnet20 --epochs 5 --name resnet20-base
t wt-aug --model resnet20 --epochs 5 --augmix --name resnet20-augmix
t wt-base --model cnn3_wide --epochs 5 --name cnn3_wide-base
t wt-aug --model cnn3_wide --epochs 5 --augmix --name cnn3_wide-augmix
t wt-aug --recipe fast --augmix --augmix-jsd 12 --name fast-augmix-jsd
t wt-base --recipe fast90 --name fast90-base
t wt-aug --recipe fast90 --augmix --name fast90-augmix
