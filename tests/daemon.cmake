# SPDX-License-Identifier: MIT
# fluffd and fluffctl: the worker pool as a unit, the daemon on a private bus
# against the fake site as integration tests.
fluff_add_py_test(test-daemon-basic SCRIPT integration/test-daemon-basic.py LABELS integration SESSION TIMEOUT 120)
fluff_add_c_test(test-work SOURCES test-work.c LIBS fluff-work LABELS unit)
fluff_add_c_test(test-counts SOURCES test-counts.c LIBS fluff-core LABELS unit)
target_include_directories(test-counts PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
fluff_add_py_test(test-login SCRIPT integration/test-login.py LABELS integration SESSION TIMEOUT 300)
fluff_add_py_test(test-sync SCRIPT integration/test-sync.py LABELS integration SESSION TIMEOUT 600)
fluff_add_py_test(test-sync-crash SCRIPT integration/test-sync-crash.py LABELS integration SESSION TIMEOUT 600)
fluff_add_py_test(test-sync-faults SCRIPT integration/test-sync-faults.py LABELS integration SESSION TIMEOUT 900)
fluff_add_py_test(test-sync-big SCRIPT integration/test-sync-big.py LABELS integration SESSION TIMEOUT 900)
fluff_add_c_test(test-progress SOURCES test-progress.c LIBS fluff-client util LABELS unit)
fluff_add_py_test(test-hostile SCRIPT integration/test-hostile.py LABELS integration SESSION TIMEOUT 600)
fluff_add_py_test(test-crash SCRIPT integration/test-crash.py LABELS integration SESSION TIMEOUT 900)
if(FLUFF_SANITIZE)
    # Each kind of work once under the sanitizers; the 20 rounds take ~7 min
    # on 2 loaded cores in the plain build already.
    set_property(TEST test-crash APPEND PROPERTY ENVIRONMENT "FLUFF_CRASH_ROUNDS=6")
endif()
fluff_add_py_test(test-disk-full SCRIPT integration/test-disk-full.py LABELS integration SESSION TIMEOUT 600)
# fluffd's layers: every #include under daemon/ runs down (or is a named
# exception), and only dbus/ speaks sd-bus.
fluff_add_py_test(test-layering SCRIPT test-layering.py LABELS unit)
# The middle of fluffd as libraries: the job runner without D-Bus.
fluff_add_c_test(test-job-runner SOURCES test-job-runner.c LIBS fluff-jobs LABELS unit)
# The training's memory budget (issue 16): the caps that keep it at 100,000 posts.
fluff_add_c_test(test-train-budget SOURCES test-train-budget.c LIBS fluff-train LABELS unit)
target_include_directories(test-train-budget PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
