# SPDX-License-Identifier: MIT
# Label system: the installed units under a real systemd user manager, in a
# systemd-nspawn container whose root tests/system/build-root.sh builds once
# per machine (skipped, 77, where that cannot be done: not root, no nspawn,
# no mirror). Not in the sanitizer build: its runtime is not in the container.
if(NOT FLUFF_SANITIZE)
    fluff_add_py_test(test-user-manager SCRIPT system/test-user-manager.py LABELS system TIMEOUT 600)
endif()
