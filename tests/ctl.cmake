# SPDX-License-Identifier: MIT
# fluffctl's command line: JSON schemas, exit status, "--", fitted tables, the
# contact sheet and the web page in headless Chromium, bash completion.
fluff_add_py_test(test-ctl SCRIPT integration/test-ctl.py LABELS integration SESSION TIMEOUT 600)
# Man pages, completion, desktop entry and icon as `cmake --install` lays them out.
fluff_add_py_test(test-install SCRIPT test-install.py LABELS unit TIMEOUT 300)
