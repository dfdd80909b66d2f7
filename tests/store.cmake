# SPDX-License-Identifier: MIT
# Tests of the dataset store, configuration, credentials and image crops.
fluff_add_c_test(test-images SOURCES test-images.c LIBS fluff-images PkgConfig::VIPS Threads::Threads LABELS unit)
fluff_add_c_test(test-store SOURCES test-store.c LIBS fluff-store PkgConfig::SQLITE LABELS unit)
fluff_add_c_test(test-store-labels SOURCES test-store-labels.c LIBS fluff-store LABELS unit)
fluff_add_c_test(test-store-model SOURCES test-store-model.c LIBS fluff-store LABELS unit)
fluff_add_c_test(test-store-history SOURCES test-store-history.c LIBS fluff-store LABELS unit)
fluff_add_c_test(test-store-review SOURCES test-store-review.c LIBS fluff-store LABELS unit)
fluff_add_c_test(test-config SOURCES test-config.c LIBS fluff-config LABELS unit)
fluff_add_c_test(test-credentials SOURCES test-credentials.c LIBS fluff-config LABELS unit)

# The crop benchmark's program (tests/bench/bench-crop.py runs it): built, never run by ctest.
add_executable(bench-crop bench/bench-crop.c)
target_link_libraries(bench-crop PRIVATE fluff-images fluff-common PkgConfig::VIPS Threads::Threads)
