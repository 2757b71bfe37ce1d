#!/bin/bash
# issue 21, part 2, last run of the session: fast89 with cutout (an 8-pixel square zeroed per image) on the
# step-matched 695 s, seed 0. At the end of fast89's run the kept (hardest) half of each batch is trained to
# ~90% accuracy, so more regularisation may pay. From the worktree frozen at 0495334.
set -u
export PYTHONPATH=WORKDIR/wt-emu10/src CIFARLAB_DATA=../shared/data/cifar10
PY=.venv/bin/python
OUT=WORKDIR/emu9
source WORKDIR/wt-emu10/docs/bench/lib.sh
cd "$OUT"
run fast89-cutout8-695s-fp32-s0 --recipe fast89 --amp off --time-budget 695s --cutout 8 --seed 0
