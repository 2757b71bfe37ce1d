#!/usr/bin/env bash
# Rerun the notebook's experiments (docs/seed-parity.md): each seed recipe once, to completion, with the
# notebook's protocol (--select-on test: all 50,000 training images, watch test accuracy).
# Usage: scripts/seed_parity.sh OUT_DIR RECIPE... ; extra flags via PARITY_FLAGS (e.g. "--threads 1").
set -u
out=$1; shift
for recipe in "$@"; do
  echo "=== $recipe start $(date -Is)"
  cifarlab train --recipe "$recipe" --select-on test --out "$out" --name "$recipe" --no-progress ${PARITY_FLAGS:-}
  echo "=== $recipe exit $? $(date -Is)"
done
