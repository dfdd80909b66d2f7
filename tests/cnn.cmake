# SPDX-License-Identifier: MIT
# The small CNN trained from scratch when there is no backbone (daemon/model/cnn*.c):
# device against the C reference (fluff-conv-ref), learning, and its part of the model file.
fluff_add_c_test(test-model-cnn SOURCES test-model-cnn.c vk-test.c LIBS fluff-model fluff-conv-ref PkgConfig::VIPS LABELS vulkan TIMEOUT 180)
if(FLUFF_SANITIZE)
    set_property(TEST test-model-cnn APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
# Train and predict with tags + the small CNN against the fake site (no backbone).
fluff_add_py_test(test-train-cnn SCRIPT integration/test-train-cnn.py LABELS integration SESSION TIMEOUT 600)
