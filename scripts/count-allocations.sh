#!/usr/bin/env bash
# Counts heap allocations per steady-state training step. One epoch on 6,400 synthetic images and one on
# 12,800 run under an allocation-counting shim; everything but the number of steps is the same (one data
# load, one evaluation, one checkpoint), so the difference is what 50 more steps allocated.
# Usage: scripts/count-allocations.sh [extra train flags, e.g. --backend swift]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clang -O2 -shared -fPIC scripts/malloc-counter.c -o "$work/libmalloc-counter.so"
python3 scripts/make-synthetic-mnist.py "$work/small" 6400 1000
python3 scripts/make-synthetic-mnist.py "$work/large" 12800 1000
swift build -c release --product dendrite >/dev/null
run() {
  LD_PRELOAD="$work/libmalloc-counter.so" .build/release/dendrite train --data "$work/$1" --log-every 0 \
    --checkpoint-dir "$work/run-$1" "${@:2}" 2>&1 >/dev/null | sed -n 's/malloc-counter: \([0-9]*\) allocations/\1/p'
}
small=$(run small "$@")
large=$(run large "$@")
echo "allocations: 50 steps $small, 100 steps $large: $((large - small)) in 50 steady-state steps"
