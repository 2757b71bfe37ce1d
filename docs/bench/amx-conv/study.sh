#!/usr/bin/env bash
# Does a training step get what AMX offers? scripts/profile_step.py over layouts, batch sizes, widths,
# torch.compile and oneDNN's ISA cap, on a quiet 2-core Intel Xeon with AMX; one process per setting (the
# oneDNN variables are read at start-up). Writes one log per setting and summary.md (img/s lines), and
# verbose.txt: the oneDNN implementation each convolution of a fastnet step ran.
# Usage, from the repository root: docs/bench/amx-conv/study.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-.venv/bin/python}
export PYTHONPATH=${PYTHONPATH:-src}
lscpu > "$here/lscpu.txt"
run() {  # NAME [ENV=VALUE ...] -- ARGS...
  local name=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" "$py" scripts/profile_step.py --steps 4 "$@" > "$here/$name.txt" 2>&1
  echo "| $name | ${envs[*]:-} | $* | $(grep -o '[0-9]* train img/s ([0-9.]* s/step)' "$here/$name.txt") |"
}
{
echo "| setting | environment | profile_step.py arguments | rate |"
echo "|---|---|---|---|"
run fastnet-bf16-cl-bs512 -- --bf16
run fastnet-bf16-nchw-bs512 -- --bf16 --nchw
run fastnet-bf16-cl-bs256 -- --bf16 --batch-size 256
run fastnet-bf16-cl-bs1024 -- --bf16 --batch-size 1024
run fastnet-bf16-cl-bs512-24px -- --bf16 --pixels 24
run fastnet-bf16-cl-bs512-noamx ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 -- --bf16
run fastnet-fp32-cl-bs512 -- 
run fastnet-fp32-cl-bs512-bf16math ONEDNN_DEFAULT_FPMATH_MODE=BF16 -- 
run fastnet-bf16-cl-bs512-compiled -- --bf16 --compile
run fastnet-half-s2-bf16-cl-bs512 -- --bf16 --model-arg width=0.5 --model-arg stem_stride=2
run cnn3-bf16-cl-bs256 -- --model cnn3 --bf16 --batch-size 256
run cnn3-bf16-nchw-bs256 -- --model cnn3 --bf16 --batch-size 256 --nchw
run resnet20-bf16-cl-bs256 -- --model resnet20 --bf16 --batch-size 256
} | tee "$here/summary.md"
ONEDNN_VERBOSE=1 "$py" scripts/profile_step.py --steps 1 --bf16 2>&1 | grep '^onednn_verbose.*,exec,' \
  | awk -F, '{print $6, $7, $8}' | sort | uniq -c | sort -rn > "$here/verbose.txt"
