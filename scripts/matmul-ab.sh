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
# Objects are cached by the hash of their source, every header, the flags and the compiler: the two builds
# share most files, and gemm_avx512.c alone takes minutes to compile.
cache=${AB_CACHE:-/tmp/dendrite-ab-objects}
mkdir -p "$cache"
flags="-O3 -fopenmp -mprefer-vector-width=512 -fPIC"
compiler=$(clang --version | head -1)
compile() { # folder with CKernels/, source file -> prints the cached object's path
  local key
  key=$(cat "$2" "$1"/CKernels/*.h "$1"/CKernels/include/*.h <(echo "$flags $compiler") | sha256sum | cut -c1-24)
  if [ ! -f "$cache/$key.o" ]; then
    clang $flags -w -I"$1/CKernels/include" -I"$1/CKernels" -c "$2" -o "$cache/$key.o.tmp.$$" || return 1
    mv "$cache/$key.o.tmp.$$" "$cache/$key.o"
  fi
  echo "$cache/$key.o"
}
export -f compile; export cache flags compiler
build() { # folder with CKernels/ -> shared library
  local objects
  objects=$(printf '%s\n' "$1"/CKernels/*.c | xargs -P "$(nproc)" -I{} bash -c 'compile "$0" "$1"' "$1" {})
  clang -shared $objects -o "$2" -L/usr/lib/llvm-14/lib -l:libomp.so.5 -lm
}
build "$work/old" "$work/libold.so"
build . "$work/libnew.so"
driver=${AB_DRIVER:-matmul-ab}
clang -O2 "scripts/$driver.c" -o "$work/$driver" -ldl
echo "$driver: working tree (new) vs $rev (old), $threads thread(s)"
"$work/$driver" "$work/libold.so" "$work/libnew.so" "$threads" "${@:3}"
