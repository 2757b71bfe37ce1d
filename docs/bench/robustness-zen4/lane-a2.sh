#!/bin/bash
# Issue 19: the cnn3_wide pair, after resnet20-augmix (replaces the rest of queue.sh; AugMix+JSD dropped for time).
cd WORKDIR/rob
while pgrep -f "name resnet20-augmix" >/dev/null; do sleep 15; done
export CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
t() { local wt=$1; shift; PYTHONPATH=WORKDIR/$wt/src $PY -m cifarlab train "$@" --seed 0 --threads 1 --out WORKDIR/rob/runs --no-progress; }
t wt-base --model cnn3_wide --epochs 5 --name cnn3_wide-base
t wt-aug --model cnn3_wide --epochs 5 --augmix --name cnn3_wide-augmix
