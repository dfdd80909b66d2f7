#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetches the nsfwjs npm package whose MobileNetV2 Fluff imports as its image
# backbone, into a cache folder, once. Prints the tarball's path.
#
#   tools/fetch-backbone.sh [DIR]     (default: $XDG_CACHE_HOME/fluff/backbone)
#
# Exit status: 0 fetched (or already there), 2 npm is not installed, 1 the
# fetch failed or the tarball is not the one Fluff was checked against.
# The tarball is never committed: it is fetched from the npm registry.
set -euo pipefail

version=4.4.0
sha256=585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/fluff/backbone}
# absolute, since the fetch runs npm from a temporary folder
case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
tgz=$dir/nsfwjs-$version.tgz

have() { [ -s "$tgz" ] && echo "$sha256  $tgz" | sha256sum --check --status; }

if have; then
    echo "$tgz"
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "fetch-backbone: npm is not installed (Debian package 'npm'); without it there is no pretrained backbone" >&2
    exit 2
fi
mkdir -p "$dir"
# Tests and setup may run this at the same time: one fetch, the others wait.
exec 9>"$dir/.lock"
flock 9
if ! have; then
    tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    if ! (cd "$tmp" && npm pack --silent "nsfwjs@$version" >/dev/null 2>"$tmp/npm.err"); then
        echo "fetch-backbone: npm pack nsfwjs@$version failed: $(tail -n 3 "$tmp/npm.err")" >&2
        exit 1
    fi
    if ! echo "$sha256  $tmp/nsfwjs-$version.tgz" | sha256sum --check --status; then
        echo "fetch-backbone: nsfwjs-$version.tgz does not have the expected SHA-256 $sha256" >&2
        exit 1
    fi
    mv "$tmp/nsfwjs-$version.tgz" "$tgz"
fi
echo "$tgz"
