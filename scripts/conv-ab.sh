#!/usr/bin/env bash
# Times the working tree's implicit-GEMM convolutions against another revision's (from 99d7623 on),
# interleaved in one process: scripts/matmul-ab.sh with scripts/conv-ab.c as the driver.
# Usage: scripts/conv-ab.sh [REVISION (default HEAD)] [THREADS (default 1)]
exec env AB_DRIVER=conv-ab "$(dirname "$0")/matmul-ab.sh" "$@"
