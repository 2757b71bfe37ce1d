#!/usr/bin/env bash
# Before/after a redesign: the code before it (42d6fbb, checked out in $BEFORE) and after (this
# checkout), alternated in one run on one quiet machine: throughput (fastnet at fast's size, cnn3; batch 512/256)
# and time to 82.7% with the default recipe (seeds 0-2), each version's processes interleaved.
set -u
: "${OUT:?a scratch folder for the results}" "${BEFORE:?a checkout of the code before the redesign}"
cd WORKDIR/main
export CIFARLAB_DATA=../shared/data/cifar10
lscpu | grep -E "Model name|CPU family|Model:" > $OUT/host.txt
for round in 1 2; do
  for v in before after; do
    if [ $v = before ]; then pp=$BEFORE/src; else pp=src; fi
    PYTHONPATH=$pp .venv/bin/python -m cifarlab bench --throughput --models fastnet --model-arg width=0.5 --model-arg stem_stride=2 \
      --batch-size 512 --steps 20 --rounds 2 --out $OUT/tp-fastnet-$v-$round > $OUT/tp-fastnet-$v-$round.log 2>&1
    PYTHONPATH=$pp .venv/bin/python -m cifarlab bench --throughput --models cnn3 \
      --batch-size 256 --steps 20 --rounds 2 --out $OUT/tp-cnn3-$v-$round > $OUT/tp-cnn3-$v-$round.log 2>&1
  done
done
for seed in 0 1 2; do
  for v in before after; do
    if [ $v = before ]; then pp=$BEFORE/src; else pp=src; fi
    PYTHONPATH=$pp .venv/bin/python -m cifarlab bench --time-to 0.827 --recipe fast --seeds 1 --first-seed $seed \
      --out $OUT/tt-$v-$seed > $OUT/tt-$v-$seed.log 2>&1
  done
done
echo ABDONE > $OUT/done
