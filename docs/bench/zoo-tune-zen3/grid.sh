# Sourced by queue.sh and queue2.sh with WORKTREE as $1: the environment, and grid FLAGS..., one
# `cifarlab tune --sampler grid` study (validation only, one thread) into this folder, with timestamps.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../zoo2-zen3/env.sh" "$1"
grid() {
  echo "=== $(date -u +%FT%TZ) start $* ($(git -C "$wt" rev-parse --short HEAD))"
  "$py" -m cifarlab tune --sampler grid --pruner none --val-size 5000 --threads 1 --out "$here" "$@"
  echo "=== $(date -u +%FT%TZ) end rc $?"
}
