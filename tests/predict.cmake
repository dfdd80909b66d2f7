# SPDX-License-Identifier: MIT
# The Predict job through fluffctl on a private bus against the fake site:
# filtering, crops, scores against the site's truth, re-predict cleanup.
fluff_add_py_test(test-predict SCRIPT integration/test-predict.py LABELS integration SESSION TIMEOUT 600)
# With the image backbone (fetched once into the build folder by npm; skips without it).
fluff_add_py_test(test-predict-backbone SCRIPT integration/test-predict-backbone.py LABELS integration SESSION TIMEOUT 600)
# The per-artist cap of Predict's and the watches' lists.
fluff_add_c_test(test-predict-artists SOURCES test-predict-artists.c LIBS fluff-predict LABELS unit)
