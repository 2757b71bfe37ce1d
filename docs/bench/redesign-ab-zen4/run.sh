#!/usr/bin/env bash
# Issue 18's before/after: the code before the redesign (42d6fbb, worktree /tmp/zoo-wt) and after (this
# checkout), alternated in one run on one quiet machine: throughput (fastnet at fast's size, cnn3; batch 512/256)
# and time to 82.7% with the default recipe (seeds 0-2), each version's processes interleaved.
set -u
cd WORKDIR/main
export CIFARLAB_DATA=../shared/data/cifar10
lscpu | grep -E "Model name|CPU family|Model:" > /tmp/ab/host.txt
for round in 1 2; do
  for v in before after; do
    if [ $v = before ]; then pp=/tmp/zoo-wt/src; else pp=src; fi
    PYTHONPATH=$pp .venv/bin/python -m cifarlab bench --throughput --models fastnet --model-arg width=0.5 --model-arg stem_stride=2 \
      --batch-size 512 --steps 20 --rounds 2 --out /tmp/ab/tp-fastnet-$v-$round > /tmp/ab/tp-fastnet-$v-$round.log 2>&1
    PYTHONPATH=$pp .venv/bin/python -m cifarlab bench --throughput --models cnn3 \
      --batch-size 256 --steps 20 --rounds 2 --out /tmp/ab/tp-cnn3-$v-$round > /tmp/ab/tp-cnn3-$v-$round.log 2>&1
  done
done
for seed in 0 1 2; do
  for v in before after; do
    if [ $v = before ]; then pp=/tmp/zoo-wt/src; else pp=src; fi
    PYTHONPATH=$pp .venv/bin/python -m cifarlab bench --time-to 0.827 --recipe fast --seeds 1 --first-seed $seed \
      --out /tmp/ab/tt-$v-$seed > /tmp/ab/tt-$v-$seed.log 2>&1
  done
done
echo ABDONE > /tmp/ab/done
