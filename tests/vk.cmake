# SPDX-License-Identifier: MIT
# Vulkan engine and kernel tests (label vulkan; lavapipe in CI). Every
# tests/test-vk-*.c and tests/test-op-*.c is one test binary linked with the
# shared helpers in vk-test.c, so adding an op test needs no edit here.
file(GLOB fluff_vk_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test-vk-*.c
     ${CMAKE_CURRENT_SOURCE_DIR}/test-op-*.c)
foreach(src IN LISTS fluff_vk_tests)
    get_filename_component(name ${src} NAME_WE)
    fluff_add_c_test(${name} SOURCES ${src} vk-test.c LIBS fluff-vk LABELS vulkan TIMEOUT 120)
endforeach()

add_subdirectory(bench)
