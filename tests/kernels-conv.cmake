# SPDX-License-Identifier: MIT
# The conv-family kernel tests (test-op-conv2d/dwconv/gpool/preprocess) and
# the tiny CNN trained on the device (test-vk-cnn) are registered by vk.cmake's
# glob; they also need the C references
# (fluff-conv-ref), which the backbone's reference checks can reuse.
add_library(fluff-conv-ref STATIC ref-conv.c)
target_include_directories(fluff-conv-ref PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(fluff-conv-ref PUBLIC fluff-vk ${MATH_LIBRARY})
foreach(t test-op-conv2d test-op-dwconv test-op-gpool test-op-preprocess test-vk-cnn)
    target_link_libraries(${t} PRIVATE fluff-conv-ref)
endforeach()
# Finite differences over every odd shape: about 60 s alone under the
# sanitizers, and past vk.cmake's 120 s beside other tests.
set_tests_properties(test-op-conv2d test-op-dwconv PROPERTIES TIMEOUT 600)
