/* SPDX-License-Identifier: MIT */
#pragma once

/* fluff-bench: prints one JSON line per case with its figures and a `ratio`
 * against a reference measured in the same run. Not a ctest test.
 *
 * A case lives in any tests/bench/bench-<area>.c (add the file to the
 * fluff-bench sources in tests/bench/CMakeLists.txt: one line):
 *
 *     BENCH_CASE(gemm) {
 *             double t = bench_time(run_once, data, 0.5);     // best seconds per call
 *             bench_printf("{\"case\":\"gemm\",…,\"ratio\":%.3f}", …);
 *     }
 *
 * `fluff-bench [--quick] [CASE…]` runs every case, or those named. */

#include <stdbool.h>
#include <stdio.h>

#include "fluff/util.h"
#include "vk.h"

typedef struct BenchContext {
        VkEngine *engine;    /* the chosen device */
        VkRecorder *recorder; /* 256 MiB of staging */
        unsigned threads;    /* LP_NUM_THREADS; give the reference as many */
        bool quick;          /* fewer sizes and repetitions */
} BenchContext;

typedef struct BenchCase {
        const char *name;
        void (*run)(BenchContext *ctx);
        struct BenchCase *next;
} BenchCase;

void bench_register(BenchCase *c);

#define BENCH_CASE(n)                                                                                      \
        static void bench_##n(BenchContext *ctx);                                                          \
        static BenchCase bench_case_##n = { #n, bench_##n, NULL };                                         \
        __attribute__((constructor)) static void bench_register_##n(void)                                  \
        {                                                                                                  \
                bench_register(&bench_case_##n);                                                           \
        }                                                                                                  \
        static void bench_##n(BenchContext *ctx)

/* Calls f(data) once to warm up, then repeatedly for at least min_seconds (at
 * least twice); returns the best wall time of one call in seconds, or < 0 when
 * f failed. */
double bench_time(int (*f)(void *data), void *data, double min_seconds);
/* The same, and ret_cpu gets the least process CPU time (all threads) of one
 * call: on a shared machine it shows the work done, unlike wall time. */
double bench_time_cpu(int (*f)(void *data), void *data, double min_seconds, double *ret_cpu);
/* Prints one JSON line to stdout (the format gets no trailing newline). */
void bench_printf(const char *fmt, ...) _printf_(1, 2);
