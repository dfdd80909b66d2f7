# SPDX-License-Identifier: MIT
# The fake e621 site's own tests: later tests trust it, so it is tested first.
fluff_add_py_test(test-fake-site SCRIPT test-fake-site.py LABELS unit TIMEOUT 120)
fluff_add_py_test(test-fake-site-media SCRIPT test-fake-site-media.py LABELS unit TIMEOUT 120)
fluff_add_py_test(test-fake-site-hard SCRIPT test-fake-site-hard.py LABELS unit TIMEOUT 120)
