# SPDX-License-Identifier: MIT
# Votes through fluffd's outbox to the fake site, on a private bus.
fluff_add_py_test(test-vote SCRIPT integration/test-vote.py LABELS integration SESSION TIMEOUT 300)
