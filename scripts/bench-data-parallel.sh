#!/usr/bin/env bash
# Data-parallel speed on this machine: 2 ranks × 1 thread (mpirun) against 1 process × 2 threads, samples/s
# of one epoch's training steps (evaluation excluded), interleaved round by round; and the exchange's cost:
# rank 0's wait per step with the overlap (buckets sent during backward) and without it (DENDRITE_OVERLAP=0).
# Usage: scripts/bench-data-parallel.sh [rounds] [extra train flags, e.g. --model cnn]
# BASELINE=/path/to/another/dendrite adds that binary's ratio to each round (built from another revision:
# the two are then compared in the same minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
shift || true
swift build -c release --product dendrite > /dev/null
bin=.build/release/dendrite
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)
rate() { sed -n 's/.* \([0-9]*\) samples\/s.*/\1/p' | tail -1; }
wait_per_step() { awk '$1 == "allreduce" { print $9 " " $10 }'; }
echo "round  1×2 threads  2×1 thread  ratio  allreduce wait/step: overlapped  not overlapped"
for round in $(seq "$rounds"); do
    single=$("$bin" train --threads 2 --log-every 0 --checkpoint-dir "$work/s$round" "$@" | rate)
    out=$("${mpi[@]}" "$bin" train --threads 1 --log-every 0 --profile --checkpoint-dir "$work/p$round" "$@")
    parallel=$(rate <<< "$out")
    overlapped=$(wait_per_step <<< "$out")
    held=$(DENDRITE_OVERLAP=0 "${mpi[@]}" -x DENDRITE_OVERLAP "$bin" train --threads 1 --log-every 0 --profile \
        --checkpoint-dir "$work/h$round" "$@" | wait_per_step)
    printf "%5d  %11s  %10s  %5.2f  %30s  %14s\n" "$round" "$single" "$parallel" \
        "$(echo "$parallel / $single" | bc -l)" "$overlapped" "$held"
    if [[ -n "${BASELINE:-}" ]]; then
        single=$("$BASELINE" train --threads 2 --log-every 0 --checkpoint-dir "$work/bs$round" "$@" | rate)
        parallel=$("${mpi[@]}" "$BASELINE" train --threads 1 --log-every 0 --checkpoint-dir "$work/bp$round" "$@" | rate)
        printf "%5s  %11s  %10s  %5.2f  (BASELINE)\n" "" "$single" "$parallel" "$(echo "$parallel / $single" | bc -l)"
    fi
done
