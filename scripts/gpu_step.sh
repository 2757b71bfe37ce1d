# Sourced by the prepared GPU scripts (gpu_check.sh, gpu_airbench.sh). They set `deadline` (in bash's
# SECONDS) and `steplogs` (a folder) first.
#
# step NAME SECONDS CMD...: run CMD with a time limit cut to what is left before the deadline, its output
# in $steplogs/NAME.log; print the log's tail and return CMD's exit status (1 if skipped for lack of time).
step() {
  local name=$1 limit=$2 left=$((deadline - SECONDS)) tail_lines=${STEP_TAIL:-6}; shift 2
  if ((left < 15)); then echo "=== $name: skipped, ${left}s of the budget left"; return 1; fi
  ((limit > left)) && limit=$left
  echo "=== $name: $* (limit ${limit}s) $(date -Is)"
  local t0=$SECONDS
  timeout "$limit" "$@" > "$steplogs/$name.log" 2>&1
  local rc=$?
  tail -n "$tail_lines" "$steplogs/$name.log"
  echo "=== $name exit $rc after $((SECONDS - t0))s"
  return $rc
}
