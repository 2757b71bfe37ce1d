#!/bin/bash
# Issue 19, second lane: fast90 with and without AugMix, one thread, beside queue.sh.
cd /work/rob
export CIFARLAB_DATA=/work/shared/data/cifar10
PY=/work/main/.venv/bin/python
t() { local wt=$1; shift; PYTHONPATH=/work/$wt/src $PY -m cifarlab train "$@" --seed 0 --threads 1 --out /work/rob/runs --no-progress; }
t wt-base --recipe fast90 --name fast90-base
t wt-aug --recipe fast90 --augmix --name fast90-augmix
