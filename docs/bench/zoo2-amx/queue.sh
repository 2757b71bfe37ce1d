#!/usr/bin/env bash
# The zoo at 10 minutes beside the textbook loop on a 2-core Intel Xeon with AMX (bf16), one model (and
# seed) at a time, both at once with one thread each: the protocol of docs/bench/zoo2-zen3/queue.sh.
# Usage, from the repository root: docs/bench/zoo2-amx/queue.sh WORKTREE
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../zoo2-zen3/env.sh" "$1"
zoo --models resnet20
zoo --models resnet56
zoo --models vgg16_bn
zoo --models resnet18
zoo --models vgg11_bn
zoo --models mobilenetv2
zoo --models resnet20,resnet56 --first-seed 1 --seeds 2
