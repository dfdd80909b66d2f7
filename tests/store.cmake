# SPDX-License-Identifier: MIT
# Tests of the dataset store, configuration, credentials and image crops.
fluff_add_c_test(test-images SOURCES test-images.c LIBS fluff-images PkgConfig::VIPS Threads::Threads LABELS unit)
