#!/usr/bin/env bash
# The zoo's 2-minute column: every model by name, two at a time with one thread each (as the 10-minute
# runs beside the textbook loop), in two streams of about equal cost, each into its own table.
# Usage, from the repository root: docs/bench/zoo2-zen3-2m/queue.sh WORKTREE
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../zoo2-zen3/env.sh" "$1"
stream a fastnet,resnet20,resnet44,resnet110,resnet50,wrn16_8,vgg16_bn,densenet121,vit,cnn1,cnn3,mlp_first,softmax --time-budget 2m &
stream b resnet9,resnet32,resnet56,resnet18,resnet34,preact_resnet18,wrn28_10,vgg11_bn,mobilenetv2,convmixer,cnn2,cnn3_wide,mlp_final --time-budget 2m &
wait
