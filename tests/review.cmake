# SPDX-License-Identifier: MIT
# Votes that move predicted crops into the dataset, the review list and the
# towers ablation option, through fluffctl on a private bus (tags only).
fluff_add_py_test(test-review SCRIPT integration/test-review.py LABELS integration SESSION TIMEOUT 300)
fluff_add_c_test(test-crop-move SOURCES test-crop-move.c ${PROJECT_SOURCE_DIR}/daemon/vote/file-move.c LABELS unit)
target_include_directories(test-crop-move PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
# The acceptance test of the taste model with the image backbone (skips without npm).
fluff_add_py_test(test-taste-acceptance SCRIPT integration/test-taste-acceptance.py LABELS integration acceptance SESSION TIMEOUT 600)
