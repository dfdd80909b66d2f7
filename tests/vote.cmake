# SPDX-License-Identifier: MIT
# Votes through fluffd's outbox to the fake site, on a private bus.
fluff_add_py_test(test-vote SCRIPT integration/test-vote.py LABELS integration SESSION TIMEOUT 300)
fluff_add_c_test(test-outbox-backoff SOURCES test-outbox-backoff.c ${PROJECT_SOURCE_DIR}/daemon/services/backoff.c
                 LABELS unit)
target_include_directories(test-outbox-backoff PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
# vote_record() on the real core and outbox, without D-Bus.
fluff_add_c_test(test-vote-record SOURCES test-vote-record.c LIBS fluff-vote PkgConfig::VIPS LABELS unit SESSION)
