# SPDX-License-Identifier: MIT
# Watched searches through fluffctl on a private bus against the fake site:
# first run, no news, new posts, the blacklist and votes, kill -9 and rerun.
fluff_add_py_test(test-watch SCRIPT integration/test-watch.py LABELS integration SESSION TIMEOUT 600)
