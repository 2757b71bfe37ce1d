#!/usr/bin/env bash
# The picker's recipes on a quiet 2-core Intel Xeon with AMX, bf16 (the host's own arithmetic, no --amp
# flag), one run at a time from the frozen code at WORKTREE. Each run's log and summary.json land here; the
# run folders under runs/ (not kept). While the file $here/hold exists the queue waits before its next run.
# Usage, from the repository root: docs/bench/frontier-amx/queue.sh WORKTREE [RECIPE:BUDGET:SEED ...]
# (without a list: the first round below, which ran as far as fast89 at 10 minutes; the hour's run then
# ran as `queue.sh WORKTREE fast90:60m:0`, then `bench --throughput` as at the end).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../zoo2-zen3/env.sh" "$1"
run() {  # RECIPE BUDGET SEED
  while [ -e "$here/hold" ]; do sleep 5; done
  local name=$1-$2-s$3
  echo "=== $(date -u +%FT%TZ) start $name ($(git -C "$wt" rev-parse --short HEAD))"
  "$py" -m cifarlab train --recipe "$1" --time-budget "$2" --seed "$3" --out "$here/runs" --name "$name" > "$here/$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
  cp "$here/runs/$name/summary.json" "$here/$name-summary.json" 2>/dev/null
  grep -o '"test_acc": [0-9.]*' "$here/$name-summary.json" 2>/dev/null
}
runs=("$@")
[ $# -gt 1 ] && runs=("${runs[@]:1}") || runs=(fast:2m:0 fast89:2m:0 fast89:5m:0 fast:5m:0 fast90-sel:10m:0 fast89:10m:0)
for r in "${runs[@]}"; do
  IFS=: read -r recipe budget seed <<< "$r"
  run "$recipe" "$budget" "$seed"
done
if [ $# -gt 1 ]; then
  echo "=== $(date -u +%FT%TZ) start throughput"
  "$py" -m cifarlab bench --throughput --models fastnet,cnn3 --batch-size 256 --steps 10 --rounds 3 \
    --out "$here/../throughput-amx" > "$here/../throughput-amx/bench.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end throughput rc $?"
fi
