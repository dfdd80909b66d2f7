#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds (once per machine) the root file system that tests/system/ boots with
# systemd-nspawn, and prints its path. Debian bookworm from the host's own
# apt mirror (the URIs: of /etc/apt/sources.list.d/debian.sources), with the
# packages of packages.txt. The root is cached under $FLUFF_SYSTEM_CACHE
# (default /var/cache/fluff-systemd-test), outside any clone, in a folder
# named after a hash of packages.txt, the sources file and ROOT_FORMAT below:
# a change to any of them builds a new root and removes the old ones.
#
# Exit status 77 (ctest's "skipped") with the reason on stderr when the root
# cannot be had here: not root, no debootstrap, no mirror, no network.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${FLUFF_SYSTEM_CACHE:-/var/cache/fluff-systemd-test}
sources=/etc/apt/sources.list.d/debian.sources

skip() {
    echo "build-root: SKIP: $*" >&2
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
command -v debootstrap >/dev/null || skip "no debootstrap (Debian package debootstrap)"
[ -r "$sources" ] || skip "no $sources to take the Debian mirror from"
mirror=$(awk '/^URIs:/ { print $2; exit }' "$sources")
[ -n "$mirror" ] || skip "no URIs: line in $sources"

mapfile -t packages < <(grep -v '^#' "$here/packages.txt" | grep -v '^$')
# Raise when a change to this script changes what it builds.
ROOT_FORMAT=1
key=$( (cat "$here/packages.txt" "$sources"; echo "format $ROOT_FORMAT") | sha256sum | cut -c1-16)
root="$cache/root-$key"

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9  # two test runs on one machine build it once
if [ -e "$root/.complete" ]; then
    echo "$root"
    exit 0
fi

for old in "$cache"/root-* "$cache"/build-*; do
    [ -e "$old" ] && rm -rf --one-file-system "$old"
done
build="$cache/build-$key"
log="$cache/debootstrap.log"
include=$(IFS=,; echo "${packages[*]}")
start=$(date +%s)
echo "build-root: building $root from $mirror (about 3 minutes, once per machine)" >&2
if ! debootstrap --variant=minbase --include="$include" bookworm "$build" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf --one-file-system "$build"
    skip "debootstrap failed (no network or mirror?); its log: $log"
fi
# The same suites as the host (updates, security), for a later apt-get inside.
cp "$sources" "$build/etc/apt/sources.list.d/debian.sources"
rm -f "$build/etc/apt/sources.list"
# Smaller and quicker to boot: no package caches, no documentation.
rm -rf "$build"/var/cache/apt/archives/*.deb "$build"/var/lib/apt/lists/* "$build"/usr/share/doc/* \
       "$build"/usr/share/man/* "$build"/usr/share/locale/*
# A machine id for the journal; hostname for the log lines.
echo fluff-system-test >"$build/etc/hostname"
touch "$build/.complete"
mv "$build" "$root"
echo "build-root: built in $(( $(date +%s) - start )) s: $(du -sh --one-file-system "$root" | cut -f1)" >&2
echo "$root"
