# SPDX-License-Identifier: MIT
# The taste model (daemon/model): metrics are plain C (unit); training,
# prediction and the model file run on the Vulkan engine (vulkan, lavapipe in CI).
fluff_add_c_test(test-model-metrics SOURCES test-model-metrics.c LIBS fluff-model LABELS unit vulkan)
fluff_add_c_test(test-model-quality SOURCES test-model-quality.c LIBS fluff-model LABELS unit)
fluff_add_c_test(test-model-knn SOURCES test-model-knn.c LIBS fluff-model LABELS unit)
fluff_add_c_test(test-model-cv SOURCES test-model-cv.c vk-test.c LIBS fluff-model LABELS vulkan TIMEOUT 600)
fluff_add_c_test(test-model-history SOURCES test-model-history.c LIBS fluff-model-history LABELS unit)
# label "timed": its feature-set selection needs the head to stop early inside a
# time budget, which a sanitizer build on 2 cores does not reach (see tools/test.sh)
fluff_add_c_test(test-model-train SOURCES test-model-train.c vk-test.c LIBS fluff-model Threads::Threads LABELS vulkan timed
                 TIMEOUT 120)
# the bytes a training holds per post (two trainings at 4544 floats a post);
# skipped in the sanitizer build, whose allocator mallinfo2() does not see
fluff_add_c_test(test-model-memory SOURCES test-model-memory.c vk-test.c LIBS fluff-model LABELS vulkan
                 TIMEOUT 120)
# 15 s in the plain build, 74 s sanitized here (CI runs 2-5x slower)
fluff_add_c_test(test-model-head SOURCES test-model-head.c vk-test.c LIBS fluff-model LABELS vulkan TIMEOUT 600)
fluff_add_c_test(test-model-file SOURCES test-model-file.c vk-test.c LIBS fluff-model LABELS vulkan TIMEOUT 600)

# fluff-bench-model: not a test (see tests/bench/model-train.c).
add_executable(fluff-bench-model bench/model-train.c)
target_link_libraries(fluff-bench-model PRIVATE fluff-model)
target_compile_definitions(fluff-bench-model PRIVATE FLUFF_BENCH_DIR="${CMAKE_CURRENT_SOURCE_DIR}/bench")

# As in vk.cmake: lavapipe leaks 128 bytes at exit from an unloaded module;
# our own allocations were leak-checked (only that one remained).
if(FLUFF_SANITIZE)
    foreach(name test-model-head test-model-train test-model-file test-model-cv)
        set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
    endforeach()
endif()
fluff_add_c_test(test-model-vocab SOURCES test-model-vocab.c vk-test.c LIBS fluff-model fluff-vocab LABELS vulkan
                 TIMEOUT 600)
if(FLUFF_SANITIZE)
    set_property(TEST test-model-vocab APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
# the explanation's parts add up to the logit (trains three small models, ~1 s)
fluff_add_c_test(test-model-explain SOURCES test-model-explain.c vk-test.c LIBS fluff-model LABELS unit vulkan)
if(FLUFF_SANITIZE)
    set_property(TEST test-model-explain APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()

# fluff-bench-ft-step: not a test (see tests/bench/ft-step.c, tests/bench/bench-ft-step.py).
add_executable(fluff-bench-ft-step bench/ft-step.c)
target_link_libraries(fluff-bench-ft-step PRIVATE fluff-model)
