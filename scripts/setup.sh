#!/usr/bin/env bash
# Installs what fmnist needs on Debian 12 (as root), then builds it.
#   scripts/setup.sh          runtime: the data set, libtorch, a C++ toolchain
#   scripts/setup.sh --test   also what the tests use: Python PyTorch and onnx (interop) and Chromium (browser tests)
#   scripts/setup.sh --bench  also what `npm run bench` compares against: Python PyTorch and OpenBLAS
# System packages are installed only when absent, so a second run costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dataset-fashion-mnist libtorch-dev g++ make python3)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(python3-torch python3-onnx chromium fonts-dejavu-core) ;;
    --bench) packages+=(python3-torch libopenblas0-pthread) ;;
    *) echo "usage: scripts/setup.sh [--test] [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fmnist setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ " $* " == *" --bench "* ]]; then
  # Installing OpenBLAS makes it the system's libblas.so.3, so fmnist and the bench's "Python, reference BLAS" would
  # load it too. Keep the reference BLAS as the system's: only the bench's Python + OpenBLAS side uses OpenBLAS,
  # through LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread.
  lib=/usr/lib/x86_64-linux-gnu
  update-alternatives --quiet --set "libblas.so.3-x86_64-linux-gnu" "$lib/blas/libblas.so.3"
  update-alternatives --quiet --set "liblapack.so.3-x86_64-linux-gnu" "$lib/lapack/liblapack.so.3"
fi

# onnxruntime-node ships its CPU binary in the tarball; its postinstall (blocked by allowScripts anyway) would try
# to download CUDA parts.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
