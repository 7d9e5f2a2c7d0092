#!/usr/bin/env bash
# Fault injection against the built `dendrite` binary:
#  1. SIGKILL at random instants (some inside checkpoint writes), then --resume until done: the final checkpoint
#     must be byte-identical to an uninterrupted run's (same seed, backend, threads).
#  2. An unusable checkpoint folder (a path under a file, a read-only mount, a full disk): clear error naming
#     the path, non-zero exit, earlier checkpoints unchanged.
#  3. A truncated or bit-flipped newest checkpoint on --resume: skipped, and said so, for the one before it, the run
#     still byte-identical; every checkpoint damaged, or a --hidden mismatch: clear error, files untouched.
#  4. A folder locked by a live run (stopped with SIGSTOP at a random instant): a second run and a --resume are
#     refused naming its PID, nothing in the folder changes; SIGTERM then makes the live run write a checkpoint
#     and exit 143, and --resume from it ends byte-identical. Two signals at once: exit at once, resume still exact.
#  5. Under mpirun (when installed): one rank SIGKILLed mid-run ends the whole job within 10 s, the newest
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
pid=
trap 'kill -KILL $pid 2> /dev/null || true; umount "$work/small" "$work/ro" 2> /dev/null || true; rm -rf "$work"' EXIT
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

# 3. Damaged checkpoints on --resume: a truncated or bit-flipped newest one is skipped, and said so, for the one
# before it, and the run still ends byte-identical; with every one damaged, a clear error and nothing changed.
# A mismatched architecture: a clear error.
for damage in truncated bit-flipped; do
    dir="$work/$damage"
    cp -r "$work/reference" "$dir"
    newest="$dir/$final"
    if [[ $damage == truncated ]]; then
        truncate -s 1000 "$newest"
    else
        printf '\xff' | dd of="$newest" bs=1 seek=$(( $(stat -c %s "$newest") - 100 )) conv=notrunc status=none
    fi
    out=$("${train[@]}" --checkpoint-dir "$dir" --resume 2>&1) || fail "resuming past a $damage newest checkpoint: $out"
    skipped=$(grep -m1 "^Skipped checkpoint $newest: " <<< "$out") || fail "no word of the $damage $newest: $out"
    cmp "$newest" "$work/reference/$final" || fail "resumed past a $damage checkpoint: the final checkpoint differs"
    echo "ok ($damage newest): $skipped; resumed to a byte-identical $final"
done
for file in "$dir"/checkpoint-*; do truncate -s 1000 "$file"; done
expect_error "$dir" "no usable checkpoint in this folder" "${train[@]}" --epochs 4 --checkpoint-dir "$dir" --resume
expect_error "$work/reference" "the model is 'dense 32, relu, dense 10' in the checkpoint, 'dense 64, relu, dense 10' now" \
    "${train[@]}" --epochs 4 --hidden 64 --checkpoint-dir "$work/reference" --resume
# 4. Folders locked by a live run. live_run DIR: starts a long run there and stops it (SIGSTOP) once it has
# written a checkpoint, at whatever it is doing then (a checkpoint write included); sets $pid.
live_run() {
    "${train[@]}" --epochs 1000 --checkpoint-dir "$1" > "$work/live.log" 2>&1 &
    pid=$!
    until compgen -G "$1/checkpoint-*" > /dev/null; do
        kill -0 "$pid" 2> /dev/null || fail "the live run ended early: $(cat "$work/live.log")"
        sleep 0.01
    done
    kill -STOP "$pid"
}
snapshot() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
dir="$work/locked"
live_run "$dir"
before=$(snapshot "$dir")
for extra in "" --resume; do
    out=$("${train[@]}" --checkpoint-dir "$dir" $extra 2>&1 > /dev/null) && fail "a second run beside PID $pid exited 0"
    [[ $(grep -c '^Error: ' <<< "$out") -eq 1 && "$out" == *"another run (PID $pid)"* ]] || fail "expected the live run's PID: $out"
    echo "ok (refused beside a live run${extra:+, $extra}): ${out%%$'\n'*}"
done
[[ "$(snapshot "$dir")" == "$before" ]] || fail "the refused runs changed $dir"
kill -TERM "$pid" && kill -CONT "$pid"
status=0 && wait "$pid" || status=$?
[[ $status -eq 143 ]] || fail "SIGTERM: exit $status, expected 143: $(cat "$work/live.log")"
grep -q "^Stopped by SIGTERM .*checkpoint $dir/checkpoint-" "$work/live.log" || fail "SIGTERM: no checkpoint named: $(cat "$work/live.log")"
"${train[@]}" --checkpoint-dir "$dir" --resume > /dev/null
cmp "$dir/$final" "$work/reference/$final" || fail "resumed after SIGTERM: final checkpoint differs"
echo "ok: SIGTERM wrote $(grep -o 'checkpoint-[0-9]*' "$work/live.log" | head -1), exit 143, resumed to a byte-identical $final"
dir="$work/twice"
live_run "$dir"
kill -INT "$pid" && kill -TERM "$pid" && kill -CONT "$pid"
status=0 && wait "$pid" || status=$?
# Both are delivered on SIGCONT, in an order the kernel chooses: the second handler to run exits.
[[ $status -eq 130 || $status -eq 143 ]] || fail "SIGINT and SIGTERM: exit $status, expected 130 or 143"
! grep -q "^Stopped by" "$work/live.log" || fail "SIGINT then SIGTERM: the run went on to stop cleanly"
"${train[@]}" --checkpoint-dir "$dir" --resume > /dev/null
cmp "$dir/$final" "$work/reference/$final" || fail "resumed after two signals: final checkpoint differs"
echo "ok: two signals exit at once ($status); resumed to a byte-identical $final"

# 5. A rank killed in a data-parallel run.
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
