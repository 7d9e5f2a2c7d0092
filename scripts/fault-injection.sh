#!/usr/bin/env bash
# Fault injection against the built `dendrite` binary:
#  1. SIGKILL at random instants (some inside checkpoint writes), then --resume until done: the final checkpoint
#     must be byte-identical to an uninterrupted run's (same seed, backend, threads).
#  2. An unusable checkpoint folder (a path under a file, a read-only mount, a full disk): clear error naming
#     the path, non-zero exit, earlier checkpoints unchanged.
#  3. A truncated or bit-flipped newest checkpoint, and a --hidden mismatch, on --resume: clear error, file untouched.
#  4. Under mpirun (when installed): one rank SIGKILLed mid-run ends the whole job within 10 s, the newest
#     checkpoint is intact, and --resume under mpirun finishes the run.
# Usage: [SCRATCH=.build] scripts/fault-injection.sh [trials]   (default 6 trials; the read-only and full-disk
# cases mount a tmpfs, so they need root and are skipped otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-6}"
scratch="${SCRATCH:-.build}"  # CI's `swift test` already built the binary there
swift build --scratch-path "$scratch" --product dendrite > /dev/null
bin="$scratch/debug/dendrite"
work=$(mktemp -d)
trap 'umount "$work/small" "$work/ro" 2> /dev/null || true; rm -rf "$work"' EXIT
python3 scripts/make-synthetic-mnist.py "$work/data" 512 64
train=("$bin" train --data "$work/data" --epochs 3 --batch-size 32 --hidden 32 --checkpoint-every 1 --seed 1
       --threads 2 --log-every 0)
final=checkpoint-000000048.safetensors  # 3 epochs of 16 batches
fail() { echo "FAIL: $*"; exit 1; }
# expect_error DIR TEXT COMMAND...: non-zero exit, one "Error: " line naming TEXT, no crash, DIR's existing
# checkpoints unchanged (a run may add newer ones before failing) and no temporary file left behind.
expect_error() {
    local keep=$1 text=$2 out status=0
    shift 2
    sha256sum "$keep"/checkpoint-* > "$work/sums"
    out=$("$@" 2>&1 > /dev/null) || status=$?
    [[ $status -ne 0 ]] || fail "exit 0 for: $*"
    [[ $(grep -c '^Error: ' <<< "$out") -eq 1 && "$out" == *"$text"* ]] || fail "expected one error naming '$text', got: $out"
    [[ "$out" != *"Fatal error"* && "$out" != *Backtrac* ]] || fail "crashed: $out"
    sha256sum --check --quiet "$work/sums" || fail "checkpoints in $keep changed"
    ! compgen -G "$keep/.checkpoint-*" > /dev/null || fail "temporary file left in $keep"
    echo "ok (exit $status): ${out%%$'\n'*}"
}

start=$(date +%s%N)
"${train[@]}" --checkpoint-dir "$work/reference" > /dev/null
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "uninterrupted run: $run_ms ms"

# 1. Kills at random instants up to the length of a whole run, so they land anywhere, writes included.
for trial in $(seq "$trials"); do
    dir="$work/killed-$trial" kills=0 torn=0
    while true; do
        resume=()
        compgen -G "$dir/checkpoint-*" > /dev/null && resume=(--resume)
        "${train[@]}" --checkpoint-dir "$dir" "${resume[@]}" > /dev/null 2>&1 &
        pid=$!
        if (( kills < 3 )); then
            sleep "$(( RANDOM % run_ms ))e-3"
            kill -KILL "$pid" 2> /dev/null && kills=$((kills + 1))
        fi
        wait "$pid" 2> /dev/null && [[ -f "$dir/$final" ]] && break
        # A temporary checkpoint left behind means the kill landed inside a write (the next run removes it).
        compgen -G "$dir/.checkpoint-*" > /dev/null && torn=$((torn + 1))
    done
    cmp "$dir/$final" "$work/reference/$final" || fail "trial $trial: final checkpoint differs after $kills kills"
    echo "trial $trial: $kills SIGKILLs ($torn inside a checkpoint write), resumed to a byte-identical $final"
done

# 2. Unusable checkpoint folders.
expect_error "$work/reference" "/dev/null/run" "${train[@]}" --checkpoint-dir /dev/null/run
mkdir -p "$work/ro" "$work/small"
if mount -t tmpfs -o size=4m tmpfs "$work/ro" 2> /dev/null; then
    "${train[@]}" --epochs 1 --checkpoint-dir "$work/ro/run" > /dev/null
    mount -o remount,ro "$work/ro"
    expect_error "$work/ro/run" "$work/ro/run" "${train[@]}" --epochs 2 --checkpoint-dir "$work/ro/run" --resume
    # A checkpoint here is about 306 kB: a 700 kB disk holds two, the third write fails with ENOSPC.
    mount -t tmpfs -o size=700k tmpfs "$work/small"
    mkdir "$work/small/run" && cp "$work/reference/checkpoint-000000046.safetensors" "$work/small/run/"
    expect_error "$work/small/run" "$work/small/run/checkpoint-000000048.safetensors: writing the temporary file failed: No space left on device" "${train[@]}" --checkpoint-dir "$work/small/run" --resume
    "$bin" eval --checkpoint "$work/small/run/checkpoint-000000046.safetensors" --data "$work/data" > /dev/null
else
    echo "skipped: read-only and full-disk folders (mounting a tmpfs needs root)"
fi

# 3. Damaged checkpoints and a mismatched architecture on --resume.
cp -r "$work/reference" "$work/damaged"
newest="$work/damaged/$final"
truncate -s 1000 "$newest"
expect_error "$work/damaged" "$newest" "${train[@]}" --epochs 4 --checkpoint-dir "$work/damaged" --resume
cp "$work/reference/$final" "$newest"
printf '\xff' | dd of="$newest" bs=1 seek=$(( $(stat -c %s "$newest") - 100 )) conv=notrunc status=none
expect_error "$work/damaged" "$newest" "${train[@]}" --epochs 4 --checkpoint-dir "$work/damaged" --resume
expect_error "$work/reference" "the model is 'dense 32, relu, dense 10' in the checkpoint, 'dense 64, relu, dense 10' now" \
    "${train[@]}" --epochs 4 --hidden 64 --checkpoint-dir "$work/reference" --resume

# 4. A rank killed in a data-parallel run.
if command -v mpirun > /dev/null; then
    mpi=(mpirun --allow-run-as-root --oversubscribe -np 2 "$bin" train --data "$work/data" --batch-size 32 --hidden 32
         --checkpoint-every 1 --seed 1 --threads 1 --log-every 0)
    dir="$work/mpi"
    "${mpi[@]}" --epochs 40 --checkpoint-dir "$dir" > "$work/mpi.log" 2>&1 &
    launcher=$!
    until compgen -G "$dir/checkpoint-*" > /dev/null; do sleep 0.1; done
    sleep 0.5
    rank=$(pgrep -f "dendrite train .*--checkpoint-dir $dir" | tail -1)
    killed=$(date +%s%N)
    kill -KILL "$rank"
    status=0
    wait "$launcher" || status=$?
    ended_ms=$(( ($(date +%s%N) - killed) / 1000000 ))
    (( status != 0 )) || fail "mpirun exited 0 after a rank was killed"
    (( ended_ms <= 10000 )) || fail "the job took $ended_ms ms to end after a rank was killed"
    newest=$(ls "$dir"/checkpoint-* | tail -1)
    "$bin" eval --checkpoint "$newest" --data "$work/data" > /dev/null || fail "$newest does not verify"
    "${mpi[@]}" --epochs 2 --checkpoint-dir "$dir" --resume > /dev/null 2>&1 \
        || fail "--resume under mpirun failed"
    echo "ok: a SIGKILLed rank ended the 2-rank job in $ended_ms ms (exit $status); $newest verifies; --resume finished"
else
    echo "skipped: a rank killed under mpirun (Open MPI is not installed)"
fi
echo "fault injection: all passed"
