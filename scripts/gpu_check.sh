#!/usr/bin/env bash
# The GPU figures (docs/bench/performance-log/README.md, "GPU"), in two phases that fit two calls of a GPU machine
# machine (which takes 64 MiB per call and reaches no network; scripts/gpu_data.py carries the data):
#
#   code      needs no CIFAR-10: the CUDA code paths on fake data (bf16 autocast with Muon, fp16 with
#             the gradient scaler, torch.compile, evaluate) and bench --throughput of every model
#   accuracy  CIFARLAB_DATA set: time to 90% for fast90 over 3 seeds, then fast94 (the best recipe)
#             seed by seed, each in its own bench so a cut-off leaves the finished seeds
#
# Runs from the repository root with the python3 that already holds a CUDA PyTorch (cifarlab runs
# from src/; no venv). Each step has its own time limit, cut to what is left of BUDGET_S (seconds,
# default 540), so a slow step cannot eat the others' time. Every step's log lands in OUT_DIR, and
# OUT_DIR/PHASE.tar.gz packs the logs, bench.json files and runs' summaries and metrics.
#
# Usage: [CIFARLAB_DATA=PATH] [BUDGET_S=N] scripts/gpu_check.sh code|accuracy OUT_DIR
set -uo pipefail
phase=${1:?usage: scripts/gpu_check.sh code|accuracy OUT_DIR}
out=${2:?usage: scripts/gpu_check.sh code|accuracy OUT_DIR}
mkdir -p "$out/$phase"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export CIFARLAB_CACHE="${CIFARLAB_CACHE:-/tmp/cifarlab-cache}"
py=${PYTHON:-python3}
dev=${DEVICE:-cuda}  # DEVICE=cpu: a dry run of the commands here
deadline=$((SECONDS + ${BUDGET_S:-540}))
work=/tmp/gpu-check

steplogs=$out/$phase
source scripts/gpu_step.sh  # step NAME SECONDS CMD...: logs to OUT_DIR/PHASE/NAME.log

cifarlab=("$py" -m cifarlab)

if [[ $phase == code ]]; then
  { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
    nproc; } 2>&1 | tee "$out/$phase/gpu.txt"
  step fake 60 $py -c "import sys; from pathlib import Path; sys.path.insert(0, 'tests'); import fakecifar; \
print(fakecifar.make_fake_batches(Path('$work/fake')))"
  fake=(--data "$work/fake/cifar-10-batches-py" --offline --train-limit 5000 --val-size 0 --no-progress --no-report --out "$work/runs")
  step fast-bf16 90 "${cifarlab[@]}" train --device "$dev" --recipe fast --epochs 2 --name fast-bf16 "${fake[@]}"
  step resnet9-fp16 90 "${cifarlab[@]}" train --device "$dev" --model resnet9 --amp fp16 --epochs 2 --name resnet9-fp16 "${fake[@]}"
  step evaluate 60 "${cifarlab[@]}" evaluate "$work/runs/fast-bf16" --data "$work/fake/cifar-10-batches-py" --offline
  step throughput 150 "${cifarlab[@]}" bench --device "$dev" --throughput --batch-size 512 --steps 50 --rounds 3 \
    --out "$out/$phase/throughput"
  step compile 150 "${cifarlab[@]}" train --device "$dev" --recipe fast --epochs 2 --compile --name fast-compiled "${fake[@]}"
else
  : "${CIFARLAB_DATA:?set CIFARLAB_DATA to the CIFAR-10 archive or folder}"
  step data 60 $py -c "from cifarlab.data.cifar import load_cifar10; a = load_cifar10(offline=True); print(a.source, len(a.train_x))"
  step fast90 150 "${cifarlab[@]}" bench --device "$dev" --time-to 0.90 --recipe fast90 --seeds 3 --out "$out/$phase/fast90"
  for seed in 0 1 2; do
    step "fast94-seed$seed" 240 "${cifarlab[@]}" bench --device "$dev" --time-to 0.94 --recipe fast94 --seeds 1 \
      --first-seed "$seed" --out "$out/$phase/fast94-seed$seed"
  done
fi
# One archive back (a lent machine returns few files): logs, bench.json/md, run configs,
# summaries and metrics; the fake-data runs' weights too (small), to check loading them on a CPU.
(cd "$out" && { [[ ! -d $work/runs ]] || cp -r "$work/runs" "$phase/fake-runs"; }
 find "$phase" -name '*.pt' ! -path '*/fake-runs/fast-bf16/*' -delete
 tar czf "$phase.tar.gz" "$phase" && rm -rf "$phase")
ls -la "$out"
