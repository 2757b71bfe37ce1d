#!/usr/bin/env bash
# Issue 3's GPU figures in one call (docs/performance.md, "GPU"): throughput of the main models and
# time to accuracy of the fast recipes over seeds, on the CUDA device.
#
# Runs from the repository root with the python3 that already holds a CUDA PyTorch (a lent GPU
# machine has one and no internet, so there is no venv: cifarlab runs from src/). CIFARLAB_DATA
# must point at the CIFAR-10 archive or folder. Each step has its own time limit, so a slow one
# cannot eat the others' time; every step's output lands in OUT_DIR.
#
# Usage: CIFARLAB_DATA=PATH scripts/gpu_check.sh OUT_DIR
set -uo pipefail
out=${1:?usage: CIFARLAB_DATA=PATH scripts/gpu_check.sh OUT_DIR}
: "${CIFARLAB_DATA:?set CIFARLAB_DATA to the CIFAR-10 archive or folder}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export CIFARLAB_CACHE="${CIFARLAB_CACHE:-/tmp/cifarlab-cache}"
py=${PYTHON:-python3}

step() {  # step NAME SECONDS CMD...: run CMD with a time limit, log to OUT_DIR/NAME.log
  local name=$1 limit=$2; shift 2
  echo "=== $name: $* (limit ${limit}s) $(date -Is)"
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  tail -n 8 "$out/$name.log"
  echo "=== $name exit $rc"
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
} | tee "$out/gpu.txt"
step data 60 $py -c "from cifarlab.data import load_cifar10; a = load_cifar10(offline=True); print(a.source)"
step throughput 120 $py -m cifarlab bench --device cuda --throughput --models cnn3,cnn3_wide,fastnet,resnet9 \
  --batch-size 512 --steps 20 --rounds 3 --out "$out/throughput"
step fast90 150 $py -m cifarlab bench --device cuda --time-to 0.90 --recipe fast90 --seeds 3 --out "$out/fast90"
step fast94 200 $py -m cifarlab bench --device cuda --time-to 0.93 --recipe fast94 --seeds 1 --out "$out/fast94"
