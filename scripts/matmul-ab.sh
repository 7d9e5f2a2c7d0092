#!/usr/bin/env bash
# Times the working tree's GEMM (all of CKernels/) against another revision's, interleaved in one
# process (scripts/matmul-ab.c loads each build as its own shared library), so a GEMM change is
# judged by a ratio measured in one run. DENDRITE_ISA and DENDRITE_BLOCKING apply to both builds
# (revisions older than the code paths ignore them).
# Usage: scripts/matmul-ab.sh [REVISION (default HEAD)] [THREADS (default 1)] [TA TB M N K]
# AB_DRIVER=conv-ab runs scripts/conv-ab.c's convolution timings instead (see scripts/conv-ab.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}; threads=${2:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old"
git archive "$rev" CKernels | tar -x -C "$work/old"
build() { # folder with CKernels/ -> shared library
  clang -O3 -fopenmp -mprefer-vector-width=512 -shared -fPIC -I"$1/CKernels/include" -I"$1/CKernels" \
    "$1"/CKernels/*.c -o "$2" -L/usr/lib/llvm-14/lib -l:libomp.so.5 -lm
}
build "$work/old" "$work/libold.so"
build . "$work/libnew.so"
driver=${AB_DRIVER:-matmul-ab}
clang -O2 "scripts/$driver.c" -o "$work/$driver" -ldl
echo "$driver: working tree (new) vs $rev (old), $threads thread(s)"
"$work/$driver" "$work/libold.so" "$work/libnew.so" "$threads" "${@:3}"
