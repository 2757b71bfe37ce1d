#!/bin/bash
# Issue 19, third lane: fast90 with AugMix (lane B then only runs the baseline), and fast without AugMix
# on one thread like the AugMix run (the thread count changes the arithmetic).
cd WORKDIR/rob
export CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
t() { local wt=$1; shift; PYTHONPATH=WORKDIR/$wt/src $PY -m cifarlab train "$@" --seed 0 --threads 1 --out WORKDIR/rob/runs --no-progress; }
t wt-aug --recipe fast90 --augmix --name fast90-augmix
t wt-base --recipe fast --name fast-base-t1
