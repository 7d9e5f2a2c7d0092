#!/usr/bin/env bash
# Times the working tree's softmax and log-softmax kernels against another revision's, interleaved in
# one process: scripts/matmul-ab.sh with scripts/rows-ab.c as the driver.
# Usage: scripts/rows-ab.sh [REVISION (default HEAD)] [THREADS (default 1)]
exec env AB_DRIVER=rows-ab "$(dirname "$0")/matmul-ab.sh" "$@"
