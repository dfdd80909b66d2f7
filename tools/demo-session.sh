#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside tests/with-session.sh (private bus, fresh XDG folders): starts the
# fake site and fluffd, then drives fluffd with fluffctl as a user would.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FLUFF_BUILD_DIR:-build}
ctl="$build/client/fluffctl"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

site_out="$FLUFF_TEST_ROOT/site.json"
python3 tests/fake-e621/fake_e621.py --port 0 --liked 150 --disliked 120 --others 400 >"$site_out" 2>"$FLUFF_TEST_ROOT/site.log" &
site_pid=$!
fluffd_pid=
cleanup() {
    [ -n "$fluffd_pid" ] && kill "$fluffd_pid" 2>/dev/null && wait "$fluffd_pid" 2>/dev/null
    kill "$site_pid" 2>/dev/null && wait "$site_pid" 2>/dev/null
    true
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$site_out" ] && break; sleep 0.1; done
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$site_out" "$1"; }
url=$(field url) user=$(field user)

step "Fake e621 site at $url (user \"$user\")"
mkdir -p "$XDG_CONFIG_HOME/fluff"
cat >"$XDG_CONFIG_HOME/fluff/config" <<CONF
# written by tools/demo-session.sh
site = $url
rate_limit = 2
CONF

step "Starting fluffd on a private session bus"
"$build/daemon/fluffd" 2>"$FLUFF_TEST_ROOT/fluffd.log" &
fluffd_pid=$!
for _ in $(seq 100); do "$ctl" status >/dev/null 2>&1 && break; sleep 0.1; done

step "fluffctl status"
"$ctl" status

step "fluffctl login $user --remember   (the API key comes on standard input)"
field api_key | "$ctl" login "$user" --remember

step "fluffctl sync"
"$ctl" sync

# The pretrained image backbone comes from the nsfwjs npm package; without npm
# the demo goes on with tags only.
if pkg=$(tools/fetch-backbone.sh "$PWD/.cache/backbone"); then
    step "fluffctl backbone import $pkg"
    "$ctl" backbone import "$pkg"

    step "fluffctl embed   (MobileNetV2 features of every crop, on the Vulkan device)"
    "$ctl" embed

    images=("$XDG_DATA_HOME"/fluff/images/*.jpg)
    img=${images[0]}
    step "fluffctl backbone classify ${img##*/}"
    "$ctl" backbone classify "$img"
else
    step "No npm: skipping the pretrained backbone (tags only)"
fi

step "fluffctl train --time 30s   (the model is saved and reused by the next fluffd)"
"$ctl" train --time 30s

sheet="$FLUFF_TEST_ROOT/predictions.png"
step "fluffctl predict rating:s --count 12 --sheet predictions.png   (new posts, never seen or voted)"
"$ctl" predict rating:s --count 12 --sheet "$sheet"
if [ -n "${FLUFF_DEMO_KEEP:-}" ]; then
    cp "$sheet" "$FLUFF_DEMO_KEEP"
    echo "Contact sheet: $FLUFF_DEMO_KEEP"
else
    echo "Contact sheet: $sheet (removed with the demo's folders; FLUFF_DEMO_KEEP=FILE.png keeps a copy)"
fi

top=$("$ctl" predictions --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
step "fluffctl like $top   (voted on the site in the background, and the post joins the dataset)"
"$ctl" like "$top"
sleep 2

step "fluffctl status"
"$ctl" status
