# SPDX-License-Identifier: MIT
# The blacklist matcher and the tag vocabulary (issue 6): pure C units.
fluff_add_c_test(test-blacklist SOURCES test-blacklist.c LIBS fluff-blacklist LABELS unit)
fluff_add_c_test(test-vocab SOURCES test-vocab.c LIBS fluff-vocab LABELS unit)
