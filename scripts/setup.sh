#!/usr/bin/env bash
# Installs what fmnist needs on Debian 12 (as root), then builds it.
#   scripts/setup.sh          runtime: the data set, libtorch, a C++ toolchain
#   scripts/setup.sh --test   also what the tests use: Python PyTorch (interop) and Chromium (browser tests)
# System packages are installed only when absent, so a second run costs a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dataset-fashion-mnist libtorch-dev g++ make python3)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(python3-torch chromium fonts-dejavu-core)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fmnist setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
