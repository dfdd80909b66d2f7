#!/bin/bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages Fluff needs to build, run and test (with sudo
# when not root), then configures and builds into build/ (or $FLUFF_BUILD_DIR).
#
#   tools/setup.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(grep -v '^#' tools/packages.txt | grep -v '^$')

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${FLUFF_BUILD_DIR:-build}
cmake -S . -B "$build" -DFLUFF_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
