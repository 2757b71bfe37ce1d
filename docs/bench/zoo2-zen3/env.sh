# Sourced by the zoo queues (zoo2-zen3/, zoo2-zen3-2m/, zoo2-amx/, zoo2-amx-2m/ queue.sh) with WORKTREE as $1: the frozen
# code on PYTHONPATH, the data copy beside the checkout, the checkout's venv.
wt=$(cd "$1" && pwd)
export PYTHONPATH=$wt/src
export CIFARLAB_DATA=${CIFARLAB_DATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)/shared/data/cifar10}
py=${PY:-.venv/bin/python}
# zoo ARGS...: one `bench --zoo --baseline` at 10 minutes into the sourcing queue's folder ($here), logged
zoo() {
  echo "=== $(date -u +%FT%TZ) start $* ($(git -C "$wt" rev-parse --short HEAD))"
  "$py" -m cifarlab bench --zoo --baseline --time-budget 10m --out "$here" "$@"
  echo "=== $(date -u +%FT%TZ) end rc $?"
}
# stream NAME MODELS ARGS...: one `bench --zoo --threads 1` over MODELS into $here/NAME, logged (the 2-minute
# columns run two streams at once)
stream() {
  local name=$1 models=$2; shift 2
  echo "=== $(date -u +%FT%TZ) start $name: $models ($(git -C "$wt" rev-parse --short HEAD))"
  "$py" -m cifarlab bench --zoo --threads 1 --out "$here/$name" --models "$models" "$@"
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
