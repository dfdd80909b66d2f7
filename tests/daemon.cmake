# SPDX-License-Identifier: MIT
# fluffd and fluffctl: the worker pool as a unit, the daemon on a private bus
# against the fake site as integration tests.
fluff_add_py_test(test-daemon-basic SCRIPT integration/test-daemon-basic.py LABELS integration SESSION TIMEOUT 120)
fluff_add_c_test(test-work SOURCES test-work.c LIBS fluff-work LABELS unit)
