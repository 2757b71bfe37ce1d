#!/usr/bin/env bash
# vgg11_bn at 10 minutes beside the textbook loop again, after zoo-vgg's peak LR moved from 0.1 to 0.05
# (the search in docs/bench/zoo-tune-zen3/). Same protocol as docs/bench/zoo2-zen3/queue.sh.
# Usage, from the repository root: docs/bench/zoo2-zen3-vgg/queue.sh WORKTREE
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../zoo2-zen3/env.sh" "$1"
echo "=== $(date -u +%FT%TZ) start vgg11_bn ($(git -C "$wt" rev-parse --short HEAD))"
"$py" -m cifarlab bench --zoo --baseline --time-budget 10m --out "$here" --models vgg11_bn
echo "=== $(date -u +%FT%TZ) end rc $?"
