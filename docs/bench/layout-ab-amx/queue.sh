#!/usr/bin/env bash
# Before and after the package's new layout (subpackages, the step plan, flags from the config's fields),
# on one host in one run: time to 82.7% with `fast` (one seed per run, in the order old, new, new, old)
# and train/eval throughput of fastnet and cnn3 (3 alternated rounds each).
# Usage, from the repository root: docs/bench/layout-ab-amx/queue.sh OLD_WORKTREE NEW_WORKTREE
set -u
here=$(cd "$(dirname "$0")" && pwd)
export CIFARLAB_DATA=${CIFARLAB_DATA:-$(cd "$here/../../../.." && pwd)/shared/data/cifar10}
py=${PY:-.venv/bin/python}
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
run() {  # LABEL WORKTREE ARGS...
  local label=$1 wt=$2; shift 2
  echo "=== $(date -u +%FT%TZ) $label ($(git -C "$wt" rev-parse --short HEAD)): $*"
  PYTHONPATH=$wt/src "$py" -m cifarlab bench "$@"
  echo "=== $(date -u +%FT%TZ) end rc $?"
}
run old "$old" --time-to 0.827 --recipe fast --seeds 1 --out "$here/time-to-old-1"
run new "$new" --time-to 0.827 --recipe fast --seeds 1 --out "$here/time-to-new-1"
run new "$new" --time-to 0.827 --recipe fast --seeds 1 --first-seed 1 --out "$here/time-to-new-2"
run old "$old" --time-to 0.827 --recipe fast --seeds 1 --first-seed 1 --out "$here/time-to-old-2"
run old "$old" --throughput --models fastnet,cnn3 --out "$here/throughput-old"
run new "$new" --throughput --models fastnet,cnn3 --out "$here/throughput-new"
