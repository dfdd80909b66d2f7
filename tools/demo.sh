#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job end to end, against the bundled fake e621 site: no account needed,
# nothing leaves this machine. Installs what is missing, builds, then runs the
# demo in a private session bus with throw-away XDG folders.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec tests/with-session.sh tools/demo-session.sh
