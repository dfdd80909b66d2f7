# SPDX-License-Identifier: MIT
# The Train job in fluffd: train, restart, cancel, kill -9 and bad input through
# fluffctl on a private bus against the fake site (tags only: no backbone).
fluff_add_py_test(test-train SCRIPT integration/test-train.py LABELS integration SESSION TIMEOUT 600)
# With the image backbone (fetched once into the build folder by npm; skips without it).
fluff_add_py_test(test-train-backbone SCRIPT integration/test-train-backbone.py LABELS integration SESSION TIMEOUT 600)
# The model's life on its own (issue 14): history, refresh, automatic retraining, rollback, kill -9,
# and a stand-in for UPower's OnBattery.
add_executable(fake-upower fake-upower.c)
target_link_libraries(fake-upower PRIVATE PkgConfig::SYSTEMD)
fluff_add_py_test(test-lifecycle SCRIPT integration/test-lifecycle.py LABELS integration SESSION TIMEOUT 900)
