#!/usr/bin/env bash
# The rest of queue.sh's searches on shorter grids, after its resnet20 search (the time left for them
# held three VGG and two resnet56 trials). Same protocol; usage as queue.sh.
set -u
. "$(dirname "$0")/grid.sh" "$1"
grid --model vgg11_bn --epochs 0.36 --study vgg11_bn-lr --param lr=0.05,0.1,0.2
grid --model resnet56 --epochs 0.7 --study resnet56-lr --param lr=0.2,0.4
