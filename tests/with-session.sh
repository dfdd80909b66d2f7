#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs a command as if in a fresh desktop session: a private D-Bus session bus
# (dbus-run-session) and new, empty XDG data/config/cache/runtime folders, all
# removed afterwards (kept when FLUFF_KEEP_TEST_DIR=1, for debugging).
#
#   tests/with-session.sh [--no-bus] COMMAND [ARGS...]
set -euo pipefail

bus=1
if [ "${1:-}" = "--no-bus" ]; then
    bus=0
    shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--no-bus] COMMAND [ARGS...]" >&2; exit 2; }

root=$(mktemp -d "${TMPDIR:-/tmp}/fluff-session-XXXXXX")
cleanup() {
    if [ "${FLUFF_KEEP_TEST_DIR:-0}" = 1 ]; then
        echo "with-session: kept $root" >&2
    else
        rm -rf "$root"
    fi
}
trap cleanup EXIT

export HOME="$root/home"
export XDG_DATA_HOME="$root/data"
export XDG_CONFIG_HOME="$root/config"
export XDG_CACHE_HOME="$root/cache"
export XDG_RUNTIME_DIR="$root/runtime"
export FLUFF_TEST_ROOT="$root"
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS FLUFF_SITE

if [ $bus = 1 ]; then
    command -v dbus-run-session >/dev/null || { echo "SKIP: dbus-run-session missing (apt-get install dbus-daemon)" >&2; exit 77; }
    # No exec: the trap must run after the command to remove the folders.
    set +e
    dbus-run-session -- "$@"
    rc=$?
else
    set +e
    "$@"
    rc=$?
fi
exit $rc
