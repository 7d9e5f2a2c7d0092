#!/usr/bin/env bash
# Times the working tree's CKernels/matmul.c against another revision's, interleaved in one process
# (scripts/matmul-ab.c), so a GEMM change is judged by a ratio measured in one run.
# Usage: scripts/matmul-ab.sh [REVISION (default HEAD)] [THREADS (default 1)] [TA TB M N K]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD}; threads=${2:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
omp_include=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | head -1)
flags=(-O3 -fopenmp -ICKernels/include -ICKernels ${omp_include:+-I"$omp_include"})
git show "$rev:CKernels/matmul.c" > "$work/old.c"
clang "${flags[@]}" -Ddk_sgemm=dk_sgemm_old -Ddk_sgemm_bias_activation=dk_sgemm_bias_activation_old \
  -Ddk_sgemm_activation_backward=dk_sgemm_activation_backward_old \
  -c "$work/old.c" -o "$work/old.o"
clang "${flags[@]}" -Ddk_sgemm=dk_sgemm_new -Ddk_sgemm_bias_activation=dk_sgemm_bias_activation_new \
  -Ddk_sgemm_activation_backward=dk_sgemm_activation_backward_new \
  -c CKernels/matmul.c -o "$work/new.o"
# The runtime, and the activations that dk_sgemm_bias_activation's epilogue calls.
clang "${flags[@]}" -c CKernels/runtime.c -o "$work/runtime.o"
clang "${flags[@]}" -c CKernels/activation.c -o "$work/activation.o"
clang -O2 scripts/matmul-ab.c "$work/old.o" "$work/new.o" "$work/runtime.o" "$work/activation.o" -o "$work/matmul-ab" \
  -L/usr/lib/llvm-14/lib -l:libomp.so.5
echo "CKernels/matmul.c: working tree (new) vs $rev (old), $threads thread(s)"
"$work/matmul-ab" "$threads" "${@:3}"
