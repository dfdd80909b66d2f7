#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetches ONNX Runtime for Node (onnxruntime-node and onnxruntime-common from
# npm, pinned and checked) into DIR/node_modules, once, for the embedding
# benchmark's CPU anchor (tests/bench/bench-backbone.py): it is what a user
# without a GPU would run instead of Fluff. Its install script (which downloads
# GPU libraries) is never run: the tarball already ships the CPU library for
# linux x64. Prints DIR.
#
#   tools/fetch-onnxruntime.sh [DIR]   (default: $XDG_CACHE_HOME/fluff/onnxruntime)
#
# Exit status: 0 fetched (or already there), 2 npm is not installed, 1 the
# fetch failed or a tarball is not the one checked here.
set -euo pipefail

version=1.30.0
declare -A sha256=(
    [onnxruntime-node]=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
    [onnxruntime-common]=7906c439e0d3e0f4048caa23b64cdfadc0f455c377f579ce1ab2a4b778f07d5f
)
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fluff/onnxruntime}
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
stamp=$dir/node_modules/.fluff-$version

if [ -e "$stamp" ]; then
    echo "$dir"
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "fetch-onnxruntime: npm is not installed (Debian package 'npm')" >&2
    exit 2
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -e "$stamp" ]; then
    tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/node_modules"
    for pkg in onnxruntime-common onnxruntime-node; do
        if ! (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null 2>"$tmp/npm.err"); then
            echo "fetch-onnxruntime: npm pack $pkg@$version failed: $(tail -n 3 "$tmp/npm.err")" >&2
            exit 1
        fi
        if ! echo "${sha256[$pkg]}  $tmp/$pkg-$version.tgz" | sha256sum --check --status; then
            echo "fetch-onnxruntime: $pkg-$version.tgz does not have the expected SHA-256" >&2
            exit 1
        fi
        mkdir -p "$tmp/node_modules/$pkg"
        tar xzf "$tmp/$pkg-$version.tgz" -C "$tmp/node_modules/$pkg" --strip-components=1
        rm "$tmp/$pkg-$version.tgz"
    done
    rm -rf "$dir/node_modules"
    mv "$tmp/node_modules" "$dir/node_modules"
    touch "$stamp"
fi
echo "$dir"
