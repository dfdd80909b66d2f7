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
# npm fetches the pretrained backbone (nsfwjs) and runs the reference check;
# a Node.js that already brings its own npm is left alone.
command -v npm >/dev/null || missing+=(npm)
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

# The pretrained image backbone (nsfwjs's MobileNetV2, MIT) comes from npm.
# Fetched once into .cache/backbone; `fluffctl backbone import` turns it into
# Fluff's own weight file (tools/demo.sh does that for you).
if ! tools/fetch-backbone.sh "$PWD/.cache/backbone" >/dev/null; then
    echo "setup: no pretrained image backbone: the model will learn from tags only and miss" \
         "everything that only the pictures show" >&2
fi
