# SPDX-License-Identifier: MIT
# The pretrained backbone: importer, weight file, reference forward pass, and
# the check against nsfwjs itself. The npm package is fetched once into the
# build folder by tools/fetch-backbone.sh; tests skip (77) only when npm is
# absent or the package cannot be fetched.
set(FLUFF_BACKBONE_CACHE ${PROJECT_BINARY_DIR}/backbone-cache)

add_executable(bb-tool backbone/bb-tool.c)
target_link_libraries(bb-tool PRIVATE fluff-backbone-vk fluff-backbone fluff-common)

fluff_add_c_test(test-backbone-import SOURCES test-backbone-import.c LIBS fluff-backbone LABELS unit TIMEOUT 300)
target_compile_definitions(test-backbone-import PRIVATE
    FLUFF_FETCH_BACKBONE="${PROJECT_SOURCE_DIR}/tools/fetch-backbone.sh"
    FLUFF_BACKBONE_CACHE="${FLUFF_BACKBONE_CACHE}")

# nsfwjs itself in Node (about 1 s per image on its pure-JS CPU backend).
fluff_add_py_test(test-backbone-nsfwjs SCRIPT test-backbone-nsfwjs.py LABELS integration TIMEOUT 600)

# The Vulkan forward pass against the C reference (lavapipe in CI).
fluff_add_c_test(test-backbone-vk SOURCES test-backbone-vk.c vk-test.c LIBS fluff-backbone-vk LABELS vulkan
                 TIMEOUT 300)
target_compile_definitions(test-backbone-vk PRIVATE
    FLUFF_FETCH_BACKBONE="${PROJECT_SOURCE_DIR}/tools/fetch-backbone.sh"
    FLUFF_BACKBONE_CACHE="${FLUFF_BACKBONE_CACHE}")

fluff_add_c_test(test-backbone-image SOURCES test-backbone-image.c LIBS fluff-backbone LABELS unit)

# Crafted packages and weight files (issue 15): no npm needed.
fluff_add_c_test(test-backbone-hostile SOURCES test-backbone-hostile.c LIBS fluff-backbone LABELS unit TIMEOUT 120)
target_compile_definitions(test-backbone-hostile PRIVATE FLUFF_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
