# SPDX-License-Identifier: MIT
# Votes through fluffd's outbox to the fake site, on a private bus.
fluff_add_py_test(test-vote SCRIPT integration/test-vote.py LABELS integration SESSION TIMEOUT 300)
fluff_add_c_test(test-outbox-backoff SOURCES test-outbox-backoff.c ${PROJECT_SOURCE_DIR}/daemon/services/backoff.c
                 LABELS unit)
target_include_directories(test-outbox-backoff PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
# vote_record() on the real core and outbox, without D-Bus.
fluff_add_c_test(test-vote-record SOURCES test-vote-record.c LIBS fluff-vote PkgConfig::VIPS LABELS unit SESSION)
# The outbox alone against the fake site over HTTP, on a real SQLite file:
# sent once, a 5xx retried after the backoff, a 404 final, a kill survived.
fluff_add_c_test(test-outbox SOURCES test-outbox.c test-e621-fake.c LIBS fluff-services LABELS unit TIMEOUT 60)
target_include_directories(test-outbox PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
target_compile_definitions(test-outbox PRIVATE FLUFF_SOURCE_DIR="${PROJECT_SOURCE_DIR}" PYTHON3="${Python3_EXECUTABLE}")
