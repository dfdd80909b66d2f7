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

# Under ASan, LeakSanitizer reports 128 bytes that lavapipe leaks from a module
# the loader has already unloaded at exit (no name to suppress it by); our own
# allocations were leak-checked without it. Everything else of ASan and UBSan
# stays on.
if(FLUFF_SANITIZE)
    foreach(src IN LISTS fluff_vk_tests)
        get_filename_component(name ${src} NAME_WE)
        set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
    endforeach()
    set_property(TEST test-self-test APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

add_subdirectory(bench)
