#!/usr/bin/env bash
# Installs what Dendrite needs on a fresh Debian/Ubuntu machine, only where it is missing:
# libomp (OpenMP runtime), zlib headers, OpenBLAS (the benchmark yardstick), Fashion-MNIST, and Open MPI
# (data-parallel training under mpirun; Dendrite loads it at run time and builds without it).
set -euo pipefail
need=()
[ -e /usr/lib/x86_64-linux-gnu/libomp5.so ] || [ -e /usr/lib/aarch64-linux-gnu/libomp5.so ] || need+=(libomp-dev)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
ls /usr/lib/*/libopenblas.so.0 >/dev/null 2>&1 || need+=(libopenblas0)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v mpirun >/dev/null 2>&1 && ls /usr/lib/*/libmpi.so.40 >/dev/null 2>&1 || need+=(libopenmpi-dev openmpi-bin)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
