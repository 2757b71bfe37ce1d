#!/bin/bash
# Issue 19, second lane: fast90 with and without AugMix, one thread, beside queue.sh.
cd WORKDIR/rob
export CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
t() { local wt=$1; shift; PYTHONPATH=WORKDIR/$wt/src $PY -m cifarlab train "$@" --seed 0 --threads 1 --out WORKDIR/rob/runs --no-progress; }
t wt-base --recipe fast90 --name fast90-base
t wt-aug --recipe fast90 --augmix --name fast90-augmix
