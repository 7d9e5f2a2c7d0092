#!/usr/bin/env bash
# Runs the tests under AddressSanitizer and UndefinedBehaviorSanitizer, and the Swift backend's threaded kernels
# under ThreadSanitizer. Each sanitizer builds in its own scratch path so the builds do not evict each other.
# Usage: scripts/sanitizers.sh [address] [undefined] [thread]   (default: all three; exit 1 if any fails)
set -uo pipefail
cd "$(dirname "$0")/.."
# Swift has no -sanitize=undefined on Linux (swiftc rejects it; Swift code traps on overflow and bounds
# itself), so UBSan instruments the C kernels through clang and links clang's UBSan runtime.
ubsan_runtime=$(dirname "$(ls /opt/swift/usr/lib/clang/*/lib/linux/libclang_rt.ubsan_standalone-x86_64.so 2> /dev/null \
    || ls "$(dirname "$(command -v swift)")"/../lib/clang/*/lib/linux/libclang_rt.ubsan_standalone-x86_64.so)")
failed=0
for sanitizer in ${*:-address undefined thread}; do
    case "$sanitizer" in
        address) scratch=.build-asan flags=(--sanitize=address) ;;
        undefined) scratch=.build-ubsan flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xlinker -L"$ubsan_runtime"
                          -Xlinker -lclang_rt.ubsan_standalone-x86_64 -Xlinker -rpath -Xlinker "$ubsan_runtime") ;;
        # TSan covers the Swift backend only: OpenMP's runtime is not TSan-instrumented (false races), and the C
        # kernels' target_clones ifunc resolvers, once instrumented, crash at load time before TSan starts.
        thread) scratch=.build-tsan flags=(--sanitize=thread -Xcc -fno-sanitize=thread
                                           --filter DendriteTests.ThreadSanitizerTests) ;;
        *) echo "unknown sanitizer '$sanitizer'"; exit 2 ;;
    esac
    mkdir -p "$scratch" && log=$scratch/sanitizer-test.log start=$SECONDS
    if LSAN_OPTIONS=suppressions=$PWD/scripts/lsan-suppressions.txt UBSAN_OPTIONS=print_stacktrace=1 \
        swift test --scratch-path "$scratch" "${flags[@]}" > "$log" 2>&1; then
        echo "$sanitizer: PASS in $((SECONDS - start)) s ($(grep -Eo 'Test run with [0-9]+ tests' "$log" | tail -n 1))"
    else
        echo "$sanitizer: FAIL in $((SECONDS - start)) s; see $log:"
        grep -E 'ERROR: |SUMMARY: |runtime error|WARNING: ThreadSanitizer|error: |✘' "$log" | head -n 20
        failed=1
    fi
done
exit $failed
