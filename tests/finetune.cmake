# SPDX-License-Identifier: MIT
# Fine-tuning the backbone's last layer jointly with the head (daemon/model/ft-*.c,
# finetune.c): the device tail against a C reference, on lavapipe in CI.
fluff_add_c_test(test-model-ft-tail SOURCES test-model-ft-tail.c vk-test.c LIBS fluff-model LABELS vulkan)
if(FLUFF_SANITIZE)
    set_property(TEST test-model-ft-tail APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
fluff_add_c_test(test-model-ft-file SOURCES test-model-ft-file.c LIBS fluff-model LABELS unit)
# "timed": it asserts what fine-tuning reaches within a 6 s budget, which the
# sanitizer build misses before the head's first epoch ends (Timer expired);
# the same code runs under the sanitizers in test-model-ft-tail and -ft-file.
fluff_add_c_test(test-model-finetune SOURCES test-model-finetune.c vk-test.c LIBS fluff-model LABELS vulkan timed TIMEOUT 120)
if(FLUFF_SANITIZE)
    set_property(TEST test-model-finetune APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

# The views with the real backbone (fetched with npm as in backbone.cmake; 77 without it).
fluff_add_c_test(test-finetune-views SOURCES test-finetune-views.c vk-test.c LIBS fluff-finetune PkgConfig::VIPS LABELS vulkan
                 TIMEOUT 300)
target_compile_definitions(test-finetune-views PRIVATE
    FLUFF_FETCH_BACKBONE="${PROJECT_SOURCE_DIR}/tools/fetch-backbone.sh"
    FLUFF_BACKBONE_CACHE="${FLUFF_BACKBONE_CACHE}")
if(FLUFF_SANITIZE)
    set_property(TEST test-finetune-views APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

# The Train job fine-tuning with the backbone against the fake site (90 s of training; 77 without npm).
fluff_add_py_test(test-finetune-backbone SCRIPT integration/test-finetune-backbone.py LABELS integration SESSION
                  TIMEOUT 600)
fluff_add_c_test(test-half SOURCES test-half.c LIBS fluff-model LABELS unit)
