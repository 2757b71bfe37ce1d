# Shared by the benchmark queues from docs/bench/proxy-zen4 on (the earlier queues carry their own
# copy of run(), kept as they ran). Source it after setting OUT, the folder the runs write to.
# run NAME FLAGS...: one `cifarlab train` into $OUT/NAME, its output in $OUT/NAME.log, timestamps on stdout.
run() {
  local name=$1
  shift
  echo "=== $(date -u +%FT%TZ) start $name: $*"
  "$PY" -m cifarlab train "$@" --out "$OUT" --name "$name" >"$OUT/$name.log" 2>&1
  echo "=== $(date -u +%FT%TZ) end $name rc $?"
}
