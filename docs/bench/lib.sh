# Shared by the benchmark queues from docs/bench/proxy-zen4 on (the earlier queues carry their own
# copy of run(), kept as they ran). queue_env and best_variant came later (docs/bench/arch-zen4 on);
# the queues before that set their environment and picked their best variant inline.

# queue_env WORKTREE OUT: run the frozen worktree's code on the real data, writing runs into OUT.
queue_env() {
  export PYTHONPATH=$1/src CIFARLAB_DATA=../shared/data/cifar10
  PY=.venv/bin/python
  OUT=$2
  mkdir -p "$OUT"
  cd "$OUT" || exit 1
}

# run NAME FLAGS...: one `cifarlab train` into $OUT/NAME, its output in $OUT/NAME.log, timestamps on stdout.
run() {
  local name=$1
  shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  "$PY" -m cifarlab train "$@" --out "$OUT" --name "$name" >"$OUT/$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}

# best_variant THRESHOLD RUN...: the run (a folder under $OUT) with the highest final test accuracy,
# or "none" if none beat THRESHOLD (a fraction, e.g. 0.8937) or none finished.
best_variant() {
  "$PY" - "$@" <<'PY'
import json, sys
threshold, names = float(sys.argv[1]), sys.argv[2:]
accs = {}
for name in names:
    try:
        accs[name] = json.load(open(f"{name}/summary.json"))["final_test_acc"]
    except (OSError, KeyError, ValueError):
        pass
best = max(accs, key=accs.get, default=None)
print(best if best is not None and accs[best] > threshold else "none")
PY
}

# seeds_of_best THRESHOLD PREFIX STEM SEED...: with `base` (an array of flags) and `flags` (variant ->
# its flags, an associative array) set by the queue, find the variant whose seed-0 run
# PREFIX<variant>STEM0 did best and, if it beat THRESHOLD, run it again with each SEED as
# PREFIX<variant>STEM<seed>.
seeds_of_best() {
  local threshold=$1 prefix=$2 stem=$3 v best
  shift 3
  local names=()
  for v in "${!flags[@]}"; do names+=("$prefix$v${stem}0"); done
  best=$(best_variant "$threshold" "${names[@]}")
  echo "=== best variant on seed 0: $best"
  [ "$best" = none ] && return
  v=${best#"$prefix"}
  v=${v%"${stem}0"}
  for seed in "$@"; do
    # shellcheck disable=SC2086  # a variant's flags are words
    run "$prefix$v$stem$seed" "${base[@]}" ${flags[$v]} --seed "$seed"
  done
}
